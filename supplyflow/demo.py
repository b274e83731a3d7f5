"""`supplyflow demo` / `make demo`: the whole path on the local stack, with a summary.

Starts the local stack, streams a generated scenario into the input topics with a
progress bar, runs the suite's jobs bounded on the embedded Flink and prints what came
out. Everything stays in place afterwards for `supplyflow stack status` and psql.
"""

from __future__ import annotations

import time

from supplyflow import config, kafka_io, runner, stack
from supplyflow.produce import produce


def _dlq_by_code(settings: config.Settings, since: dict[tuple[str, int], int]) -> list[tuple[str, int]]:
    """DLQ rows by error code, counting only input records produced after `since`."""
    import psycopg

    where = " or ".join("(source_topic = %s and source_partition = %s and source_offset >= %s)" for _ in since)
    params = [v for (topic, part), off in since.items() for v in (topic, part, off)]
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        return conn.execute(
            f"select error_code, count(*) from scm.dlq_events where {where} group by error_code order by error_code",
            params,
        ).fetchall()


def _alerts_by_type(settings: config.Settings) -> list[tuple[str, str, int]]:
    import psycopg

    with psycopg.connect(**settings.pg_conninfo()) as conn:
        query = "select alert_type, severity, count(*) from scm.alerts group by 1, 2 order by 1, 2"
        return conn.execute(query).fetchall()


def _skus_at_risk(settings: config.Settings, limit: int = 5) -> list[tuple]:
    """SKU locations whose latest REORDER alert is still current (position below the
    reorder point then), most severe and lowest position first."""
    import psycopg

    query = """
        select distinct on (a.sku, a.warehouse_id) a.sku, a.warehouse_id, a.severity, p.on_hand, p.on_order,
               p.position, (a.details ->> 'reorder_point')::bigint as reorder_point
        from scm.alerts a join scm.inventory_positions p using (sku, warehouse_id)
        where a.alert_type = 'REORDER'
        order by a.sku, a.warehouse_id, a.event_time desc"""
    rank = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3}
    with psycopg.connect(**settings.pg_conninfo()) as conn:
        rows = [r for r in conn.execute(query).fetchall() if r[5] < r[6]]
    return sorted(rows, key=lambda r: (rank.get(r[2], 9), r[5], r[0], r[1]))[:limit]


def _live_alerts(settings: config.Settings):
    """Print HIGH and CRITICAL alerts as their transactions commit, until stopped."""
    import threading

    from supplyflow import alerts_cli

    stop = threading.Event()
    thread = threading.Thread(target=alerts_cli.main, args=(settings,), daemon=True,
                              kwargs=dict(min_severity="HIGH", follow=True, from_end=True, stop=stop))
    thread.start()
    return stop, thread


def _holds_exactly(settings: config.Settings, records) -> bool:
    """Do the input topics hold exactly these records (a demo that ran before)?"""
    from collections import Counter

    want = Counter((r.topic, r.value) for r in records)
    have = Counter((topic, rec.value) for topic in config.INPUT_TOPICS
                   for rec in kafka_io.read_all(settings, settings.topic(topic)))
    return have == want


def main(settings: config.Settings, scenario: str = "demo", seed: int = 7) -> int:
    """Run the demo end to end; returns the exit code."""
    from testdata import generator

    started = time.monotonic()
    print("== starting the local stack")
    stack.up(settings)
    data = generator.generate(scenario, seed=seed)
    inputs = [settings.topic(t) for t in config.INPUT_TOPICS]
    valid = [settings.topic(t) for t in config.VALID_TOPICS.values()]
    since = kafka_io.end_offsets(settings, inputs)
    valid_since = kafka_io.end_offsets(settings, valid)
    if _holds_exactly(settings, data.records):
        # producing the same events again would make them new events (the dedup window
        # has passed, or its memory is gone with the last run): replay what is there
        print(f"== the input topics already hold scenario {scenario!r} (seed {seed}): replaying it, producing nothing")
        since = {tp: 0 for tp in since}
        valid_since = {tp: 0 for tp in valid_since}
        counts = {}
        for r in data.records:
            counts[settings.topic(r.topic)] = counts.get(settings.topic(r.topic), 0) + 1
    else:
        print(f"== producing scenario {scenario!r} (seed {seed}): {len(data.records)} records")
        counts = produce(settings, data.records, progress=True)
    names = list(runner.ALL)
    print(f"== running {', '.join(names)} on the embedded Flink (bounded); HIGH and CRITICAL alerts as they "
          f"commit (all of them: `supplyflow alerts`)")
    stop, follower = _live_alerts(settings)
    try:
        runner.run(names, settings, bounded=True)
    finally:
        stop.set()
        follower.join(5)
    print("== summary")
    for topic, n in sorted(counts.items()):
        print(f"  records in   {topic:<28} {n:>7}")
    accepted = sum(len(kafka_io.read_all(settings, t, start=valid_since)) for t in valid)
    rejected = _dlq_by_code(settings, since)
    produced = sum(counts.values())
    print(f"  accepted     {'(normalized, to scm.valid.*)':<28} {accepted:>7}")
    print(f"  duplicates   {'(dropped by event_id)':<28} {produced - accepted - sum(n for _, n in rejected):>7}")
    for code, n in rejected:
        print(f"  DLQ          {code:<28} {n:>7}")
    for alert_type, severity, n in _alerts_by_type(settings):
        print(f"  alerts       {alert_type + ' (' + severity + ')':<34} {n:>7}")
    risky = _skus_at_risk(settings)
    for sku, warehouse, severity, on_hand, on_order, position, reorder_point in risky:
        print(f"  at risk      {sku + ' @ ' + warehouse:<28} {severity:<8} position {position} < reorder point "
              f"{reorder_point} (on hand {on_hand}, on order {on_order})")
    expected = data.counts()
    print(f"  (the scenario labels {sum(v for k, v in expected.items() if k not in ('valid', 'duplicate'))} "
          f"records as invalid and {expected.get('duplicate', 0)} as duplicates)")
    print(f"== done in {time.monotonic() - started:.0f}s; the stack keeps running: `supplyflow stack status`, "
          f"`supplyflow stack down`")
    return 0
