"""The Quix Streams peer of supplyflow's ETA-variance and inventory/reorder jobs (issue #10).

Reads the raw input topics of a namespace, validates every record with the suite's own
`udfs.validation.Validator`, and raises ETA_VARIANCE / ETA_RECOVERED / LATE_DELIVERY,
COUNT_VARIANCE and REORDER alerts with the suite's own rules (benchmarks/peer/logic.py),
exactly-once, into `<ns>.peer.alerts`; rejected records go to `<ns>.peer.dlq`. Its own
virtualenv (quixstreams and apache-flink disagree on protobuf):

    bash benchmarks/peer/setup_venv.sh
    .venv-peer/bin/python benchmarks/peer/app.py --bootstrap localhost:9092 --namespace NS \
        [--consumer-group G] [--state-dir DIR] [--commit-interval 5] [--stop-after-idle SECONDS] \
        [--topology uniform|direct] [--internal-partitions 1]

Runs until SIGTERM/SIGINT (the last checkpoint is committed on the way out), or until no
message arrived for --stop-after-idle seconds (exit code 1 if Kafka errors were logged in
that time: an unreachable broker is not the end of the input). Prints nothing per record:
a progress line every --log-every seconds and a summary at the end, on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the suite's rules: udfs/, jobs/, supplyflow/

from quixstreams import Application, State, message_context  # noqa: E402
from quixstreams.models.topics import TopicConfig  # noqa: E402

from benchmarks.peer import logic  # noqa: E402
from supplyflow import config  # noqa: E402

log = logging.getLogger("supplyflow.peer")

# internal topics (logical names; physical ones get the namespace prefix like every topic)
INTERNAL = {logic.SHIPMENT: "peer.by-shipment", logic.LINE: "peer.by-line", logic.LOCATION: "peer.by-location"}
ALERTS_TOPIC, DLQ_TOPIC = "peer.alerts", "peer.dlq"
STATE_KEY = "entity"  # one JSON document per message key


class Progress:
    """Counts what went in and out; logs a line every `every` seconds (never per record)."""

    def __init__(self, every: float, raw_topics: set[str]):
        self.every = every
        self.raw_topics = raw_topics
        self.started = time.monotonic()
        self.last_log = self.started
        self.inputs: Counter[str] = Counter()
        self.outputs: Counter[str] = Counter()
        self.no_policy = 0

    def on_message(self, topic: str, partition: int, offset: int) -> None:
        self.inputs[topic] += 1
        now = time.monotonic()
        if self.every and now - self.last_log >= self.every:
            self.last_log = now
            log.info("%s", self.line())

    def line(self) -> str:
        seconds = time.monotonic() - self.started
        total = sum(self.inputs.values())
        raw = sum(n for t, n in self.inputs.items() if t in self.raw_topics)
        outs = ", ".join(f"{k} {v}" for k, v in sorted(self.outputs.items()))
        return (f"{seconds:.0f} s: {raw} input records, {total} messages with the internal topics "
                f"({total / max(seconds, 1e-9):.0f}/s); out: {outs or 'nothing'}")


class ErrorWatch(logging.Handler):
    """Remembers when Quix Streams last logged an error (e.g. every broker unreachable), so
    that a stop for idleness during an outage is not mistaken for the end of the input."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.last: float | None = None
        self.message = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.last, self.message = time.monotonic(), record.getMessage()[:200]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--bootstrap", default=config.settings().kafka_bootstrap, help="Kafka bootstrap servers")
    p.add_argument("--namespace", required=True, help="topic prefix: reads <ns>.scm.*, writes <ns>.peer.*")
    p.add_argument("--consumer-group", help="default: <ns>.supplyflow-peer")
    p.add_argument("--state-dir", type=Path, help="RocksDB state (default: .data/peer-state/<consumer group>)")
    p.add_argument("--commit-interval", type=float, default=5.0,
                   help="seconds between exactly-once checkpoints (default 5, the suite's Flink checkpoint interval)")
    p.add_argument("--stop-after-idle", type=float, default=0.0,
                   help="exit when no message arrived for this many seconds (0: run until killed)")
    p.add_argument("--topology", choices=logic.TOPOLOGIES, default="uniform",
                   help="uniform: every event passes every stage (inputs of a stage arrive in read order);\n"
                        "direct: each event straight to the first stage that needs it (fewer hops)")
    p.add_argument("--internal-partitions", type=int, default=1,
                   help="partitions of the peer.by-* topics (default 1: each stage reads its input in the\n"
                        "order the previous stage wrote it; more partitions interleave it by fetch)")
    p.add_argument("--max-partition-fetch-bytes", type=int, default=0,
                   help="librdkafka max.partition.fetch.bytes (0: its default, 1 MB); small values make a\n"
                        "replayed backlog interleave its partitions more finely while reading")
    p.add_argument("--log-every", type=float, default=10.0, help="seconds between progress lines (0: none)")
    p.add_argument("--loglevel", default="WARNING", help="Quix Streams' own log level (default WARNING)")
    args = p.parse_args(argv)
    if args.stop_after_idle and args.stop_after_idle < args.commit_interval + 2:
        # internal topics are read_committed: the next stage sees a message only after the
        # checkpoint that wrote it, so "idle" must outlast one commit interval
        p.error(f"--stop-after-idle must be at least --commit-interval + 2 s ({args.commit_interval + 2:g})")
    return args


def build(app: Application, settings: config.Settings, progress: Progress, topology: str = "uniform",
          internal_partitions: int = 1) -> None:
    """Declare the topics and the four stages on `app`."""

    def json_topic(name: str, partitions: int):
        return app.topic(settings.topic(name), key_serializer="str", key_deserializer="str",
                         value_serializer="json", value_deserializer="json",
                         config=TopicConfig(num_partitions=partitions, replication_factor=1))

    outputs = {route: json_topic(name, internal_partitions) for route, name in INTERNAL.items()}
    # the outputs as the suite's alert and DLQ topics
    outputs[logic.ALERTS] = json_topic(ALERTS_TOPIC, config.TOPIC_PARTITIONS)
    outputs[logic.DLQ] = json_topic(DLQ_TOPIC, config.TOPIC_PARTITIONS)

    def select_topic(value, key, timestamp, headers):
        route = logic.route_of(value)
        progress.outputs[value["alert_type"] if route == logic.ALERTS else route] += 1
        return outputs[route]

    def send(sdf) -> None:
        sdf.to_topic(select_topic, key=logic.key_of)

    # the edge: raw bytes of each input topic -> validate -> route
    for topic in config.INPUT_TOPICS:
        router = logic.EdgeRouter(topic, settings.topic(topic), topology)
        raw = app.topic(settings.topic(topic), key_deserializer="bytes", value_deserializer="bytes")

        def edge(value, key, timestamp, headers, router=router):
            ctx = message_context()
            return router.route(value, key, ctx.partition, ctx.offset, timestamp, int(time.time() * 1000))

        send(app.dataframe(raw).apply(edge, metadata=True, expand=True))

    window_ms = settings.dedup_window_minutes * 60_000
    lines, locations = logic.LineStage(settings), logic.LocationStage(settings)

    def per_shipment(value, key, timestamp, headers, state: State):
        if "pass" in value:  # on its way to a later stage: no state touched
            return [value["pass"]]
        entity, out = logic.shipment_step(state.get(STATE_KEY), value, timestamp, window_ms, topology)
        state.set(STATE_KEY, entity)
        return out

    def per_line(value, key, timestamp, headers, state: State):
        if "pass" in value:
            return [value["pass"]]
        entity, out = lines.step(state.get(STATE_KEY), value, timestamp, int(time.time() * 1000))
        state.set(STATE_KEY, entity)
        return out

    def per_location(value, key, timestamp, headers, state: State):
        entity, out, no_policy = locations.step(state.get(STATE_KEY), value, timestamp, int(time.time() * 1000))
        progress.no_policy += no_policy
        state.set(STATE_KEY, entity)
        return out

    for route, step in ((logic.SHIPMENT, per_shipment), (logic.LINE, per_line), (logic.LOCATION, per_location)):
        send(app.dataframe(outputs[route]).apply(step, stateful=True, metadata=True, expand=True))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s peer %(message)s", stream=sys.stderr)
    settings = replace(config.settings(), namespace=args.namespace, kafka_bootstrap=args.bootstrap)
    group = args.consumer_group or f"{args.namespace}.supplyflow-peer"
    state_dir = args.state_dir or settings.data_dir / "peer-state" / group
    progress = Progress(args.log_every, {settings.topic(t) for t in config.INPUT_TOPICS})
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=group,
        processing_guarantee="exactly-once",
        auto_offset_reset="earliest",
        commit_interval=args.commit_interval,
        state_dir=str(state_dir),
        loglevel=args.loglevel.upper(),
        on_message_processed=progress.on_message,
        auto_create_topics=True,
        consumer_extra_config={"max.partition.fetch.bytes": args.max_partition_fetch_bytes}
        if args.max_partition_fetch_bytes else None,
    )
    watch = ErrorWatch()
    logging.getLogger("quixstreams").addHandler(watch)
    build(app, settings, progress, args.topology, args.internal_partitions)
    log.info("consumer group %s, state in %s, exactly-once, commit every %g s, %s topology, %d internal "
             "partition(s)", group, state_dir, args.commit_interval, args.topology, args.internal_partitions)
    app.run(timeout=args.stop_after_idle, collect=False)
    log.info("stopped after %s; evaluations without a policy: %d", progress.line(), progress.no_policy)
    if args.stop_after_idle and watch.last is not None and time.monotonic() - watch.last < args.stop_after_idle + 5:
        log.error("stopped for lack of input while Kafka errors were reported (last: %s): the input may not have "
                  "been read to its end; run again (the group resumes from its committed offsets)", watch.message)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
