"""End-to-end check of the Quix Streams peer on the running broker (run with the main venv).

    .venv/bin/python benchmarks/peer/check_e2e.py [--size 5000] [--rate 0] [--keep]

Creates a throw-away namespace (`peertest<hex>`: its four input topics only), produces the
demo scenario into it (all at once, or at --rate records/s while the peer runs), runs
`.venv-peer/bin/python benchmarks/peer/app.py --stop-after-idle`, and reads `<ns>.peer.alerts`
and `<ns>.peer.dlq` with a read_committed consumer while it runs. Prints: records in, DLQ
records against the scenario's rejections, alerts by type (duplicates, schema), how they
compare by alert_id with the Flink jobs' rules in event time (reference.py), and the
latency from each trigger event's produce time to its alert being readable. Deletes the
namespace's topics and consumer group afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.peer import reference  # noqa: E402
from supplyflow import config, contracts  # noqa: E402
from supplyflow.produce import produce  # noqa: E402
from testdata import generator  # noqa: E402

PEER_PYTHON = ROOT / ".venv-peer" / "bin" / "python"
APP = ROOT / "benchmarks" / "peer" / "app.py"


def create_inputs(settings: config.Settings) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="peer-check")
    try:
        admin.create_topics([NewTopic(settings.topic(t), num_partitions=config.TOPIC_PARTITIONS, replication_factor=1,
                                      topic_configs={"cleanup.policy": "compact"} if t in config.COMPACTED_TOPICS
                                      else {}) for t in config.INPUT_TOPICS])
    finally:
        admin.close()


def drop_namespace(settings: config.Settings, group: str) -> list[str]:
    """Delete every topic of the namespace (inputs, peer.*, Quix changelogs) and its groups."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="peer-check")
    try:
        doomed = [t for t in admin.list_topics() if t.startswith(settings.namespace + ".") or group in t]
        if doomed:
            admin.delete_topics(doomed)
        try:  # kafka-python 2.x: delete_consumer_groups, 3.x: delete_groups
            delete = getattr(admin, "delete_consumer_groups", None) or admin.delete_groups
            delete([group])
        except Exception as exc:  # the group may be gone already; not worth failing the check
            print(f"(consumer group {group} not deleted: {exc})")
        return doomed
    finally:
        admin.close()


def wait_until_consuming(settings: config.Settings, group: str, timeout_s: float = 90) -> None:
    """Wait until the peer's consumer group is Stable (partitions assigned), so that a paced
    run is read as it is produced rather than as an initial backlog."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**settings.kafka_client_config(), client_id="peer-check")
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = {g["group_id"]: g.get("group_state") for g in admin.list_groups()}
            if states.get(group) == "Stable":
                time.sleep(2)  # state recovery and the first poll
                return
            time.sleep(0.5)
        raise SystemExit(f"the peer's consumer group {group} did not become Stable in {timeout_s:g} s")
    finally:
        admin.close()


class Reader(threading.Thread):
    """read_committed consumer of the peer's output topics; notes when each record became visible."""

    def __init__(self, settings: config.Settings, topics: list[str]):
        super().__init__(daemon=True)
        self.settings, self.topics = settings, topics
        self.records: dict[str, list[tuple[float, dict]]] = {t: [] for t in topics}
        self.stop = threading.Event()

    def run(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(**self.settings.kafka_client_config(), isolation_level="read_committed",
                                 enable_auto_commit=False)
        try:
            while not self.stop.is_set() and not set(self.topics) <= consumer.topics():
                time.sleep(0.5)  # the peer creates its output topics when it starts
            parts = [TopicPartition(t, p) for t in self.topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            while not self.stop.is_set():
                for tp, msgs in consumer.poll(timeout_ms=200).items():
                    now = time.time()
                    self.records[tp.topic] += [(now, json.loads(m.value)) for m in msgs]
        finally:
            consumer.close()


def produce_times(settings: config.Settings) -> dict[str, int]:
    """event_id -> Kafka timestamp of the first record carrying it, over the input topics."""
    from kafka import KafkaConsumer

    out: dict[str, int] = {}
    consumer = KafkaConsumer(**settings.kafka_client_config(), auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=3000)
    consumer.subscribe([settings.topic(t) for t in config.INPUT_TOPICS])
    for m in consumer:
        try:
            eid = json.loads(m.value)["event_id"]
        except Exception:
            continue
        if isinstance(eid, str) and (eid not in out or m.timestamp < out[eid]):
            out[eid] = m.timestamp
    consumer.close()
    return out


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=5000)
    p.add_argument("--rate", type=float, default=0.0, help="records/s while the peer runs (0: all before it starts)")
    p.add_argument("--commit-interval", type=float, default=5.0)
    p.add_argument("--topology", choices=("uniform", "direct"), default="uniform")
    p.add_argument("--internal-partitions", type=int, default=1)
    p.add_argument("--max-partition-fetch-bytes", type=int, default=0)
    p.add_argument("--idle", type=float, default=15.0, help="--stop-after-idle of the peer")
    p.add_argument("--keep", action="store_true", help="keep the namespace's topics")
    args = p.parse_args()

    settings = replace(config.settings(), namespace=f"peertest{uuid.uuid4().hex[:6]}")
    group = f"{settings.namespace}.supplyflow-peer"
    scenario = generator.generate("demo", seed=7, size=args.size)
    records = scenario.records
    state_dir = Path(tempfile.mkdtemp(prefix="peer-state-"))
    print(f"namespace {settings.namespace}: {len(records)} records, {scenario.counts()}, {args.topology} topology, "
          f"{args.internal_partitions} internal partition(s), "
          f"{'rate ' + str(args.rate) + '/s' if args.rate else 'produced before the peer starts'}")
    reader = Reader(settings, [settings.topic("peer.alerts"), settings.topic("peer.dlq")])
    try:
        create_inputs(settings)
        if not args.rate:
            produce(settings, records, progress=False)
        reader.start()
        cmd = [str(PEER_PYTHON), str(APP), "--bootstrap", settings.kafka_bootstrap, "--namespace",
               settings.namespace, "--state-dir", str(state_dir), "--stop-after-idle", str(args.idle),
               "--commit-interval", str(args.commit_interval), "--log-every", "5", "--topology", args.topology,
               "--internal-partitions", str(args.internal_partitions),
               "--max-partition-fetch-bytes", str(args.max_partition_fetch_bytes)]
        started = time.time()
        peer = subprocess.Popen(cmd)
        if args.rate:
            wait_until_consuming(settings, group)
            produce(settings, records, rate=args.rate, progress=False)
        rc = peer.wait()
        wall = time.time() - started
        time.sleep(2)
        reader.stop.set()
        reader.join()
        alerts = [v for _, v in reader.records[settings.topic("peer.alerts")]]
        seen_at = {v["alert_id"]: t for t, v in reader.records[settings.topic("peer.alerts")]}
        dlq = [v for _, v in reader.records[settings.topic("peer.dlq")]]
        print(f"\npeer exit code {rc}, wall time {wall:.1f} s (including {args.idle:g} s idle before stopping)")
        outputs = [t for recs in reader.records.values() for t, _ in recs]
        if outputs and not args.rate:
            busy = max(outputs) - started
            print(f"backlog of {len(records)} records: last output readable {busy:.1f} s after the peer was started "
                  f"(start-up included): {len(records) / busy:.0f} input records/s")
        expected_dlq = sum(n for k, n in scenario.counts().items() if k not in ("valid", "duplicate"))
        print(f"DLQ records: {len(dlq)} (scenario rejections: {expected_dlq}), by code "
              f"{dict(sorted(Counter(d['error_code'] for d in dlq).items()))}")
        ids = Counter(a["alert_id"] for a in alerts)
        print(f"alerts: {len(alerts)}, distinct ids {len(ids)}, by type "
              f"{dict(sorted(Counter(a['alert_type'] for a in alerts).items()))}")
        check = contracts.validator("alert")
        bad = sum(1 for a in alerts if list(check.iter_errors(a)))
        print(f"alerts not matching schemas/alert.schema.json: {bad}")
        ref = reference.flink_reference(records)
        print("\nby alert_id against the Flink jobs' rules in event time (reference.py):")
        for name, hops in (("this run", None), ("in memory, no hop delay", "instant"),
                           ("in memory, backlog waves", "waves")):
            peer_alerts = alerts if hops is None else reference.peer_in_memory(records, hops=hops,
                                                                              topology=args.topology)
            print(f"  {name:26s} {json.dumps(reference.compare(peer_alerts, ref))}")
        produced = produce_times(settings)
        lat = [seen_at[a["alert_id"]] * 1000 - produced[a["trigger_event_id"]] for a in alerts
               if a["trigger_event_id"] in produced]
        if lat:
            if not args.rate:
                print("\n(backlog run: the latency includes the wait before the peer started)")
            print(f"\nlatency trigger produce -> alert readable (read_committed), {len(lat)} alerts: "
                  f"p50 {percentile(lat, 0.5) / 1000:.2f} s, p99 {percentile(lat, 0.99) / 1000:.2f} s, "
                  f"max {max(lat) / 1000:.2f} s")
        return 0 if rc == 0 and alerts and len(ids) == len(alerts) and not bad and len(dlq) == expected_dlq else 1
    finally:
        reader.stop.set()
        shutil.rmtree(state_dir, ignore_errors=True)
        if not args.keep:
            try:
                print(f"deleted topics: {drop_namespace(settings, group)}")
            except Exception as exc:  # e.g. the broker restarted under us: say what is left behind
                print(f"could not delete the topics of {settings.namespace} ({exc}): delete every topic whose "
                      f"name starts with {settings.namespace}. or contains {group}")


if __name__ == "__main__":
    sys.exit(main())
