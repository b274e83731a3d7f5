"""The cheapest keyed Python stage PyFlink can run: the floor under any core in Python.

The pass-through (benchmarks/passthrough.py) with one keyed Python operator in the
middle: the four raw input topics, keyed in SQL by the record's key (the way core keys
its stages, `line_events.keyed`), through a `KeyedProcessFunction` in thread mode that
does the least a stateful rule can do per event: read the key's state, write it back
(a count) and emit the record, unchanged, to one exactly-once topic. No parsing, no
event-time buffer, no timers, no rules, no side outputs; one state access of each kind.
Core does all of that and more per event, in two keyed stages; so what this costs above
the pass-through is a lower bound on what any core written as PyFlink keyed operators
costs per event on this machine (benchmarks/README.md, "The floor under a Python core").

`timer-floor` (benchmarks/timer_floor.py) adds what core does before any rule: each
event waits in the key's state for the next watermark (the Kafka record time here) and
leaves from the timer that watermark fires, as core's keyed stages buffer an instant's
events (`line_events._process_function`: a MapState get and put of the instant's JSON
list and a timer per event; a get, a remove and the key's state at the timer).

Not jobs of the suite: `supplyflow bench suite --systems keyed-floor,timer-floor`;
submitted like a job: `supplyflow submit keyed-floor`.
"""

from __future__ import annotations

from benchmarks import passthrough
from connectors import ddl
from jobs import line_events
from supplyflow import config, contracts

NAME = "keyed-floor"
OUTPUT_TOPIC = passthrough.OUTPUT_TOPIC  # each system runs in a namespace of its own


def _counting_function(timers: bool):
    import orjson
    from pyflink.common import Row, Types
    from pyflink.datastream import KeyedProcessFunction
    from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

    class CountPerKey(KeyedProcessFunction):
        """Per key: read the count, write it back one higher, pass the record on."""

        def open(self, runtime_context):
            self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

        def process_element(self, row, ctx):
            self.count.update((self.count.value() or 0) + 1)
            yield Row(row[0], row[1])

    class BufferPerKey(KeyedProcessFunction):
        """Per key: buffer each record until the next watermark, then count and pass on
        what the watermark released."""

        def open(self, runtime_context):
            self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))
            self.buffer = runtime_context.get_map_state(MapStateDescriptor("pending", Types.LONG(), Types.STRING()))

        def process_element(self, row, ctx):
            timer_service = ctx.timer_service()
            instant = timer_service.current_watermark() + 1  # released by the next watermark
            pending = self.buffer.get(instant)
            records = [*orjson.loads(pending), [row[0], row[1]]] if pending else [[row[0], row[1]]]
            self.buffer.put(instant, orjson.dumps(records).decode())
            timer_service.register_event_time_timer(instant)

        def on_timer(self, timestamp, ctx):
            records = orjson.loads(self.buffer.get(timestamp) or "[]")
            self.buffer.remove(timestamp)
            self.count.update((self.count.value() or 0) + len(records))
            for key, value in records:
                yield Row(key, value)

    return BufferPerKey() if timers else CountPerKey()


def build(t_env, settings: config.Settings, bounded: bool, timers: bool = False, name: str = NAME):
    """Raw sources → SQL keying → the counting function (`timers`: buffered until the next
    watermark) → one exactly-once topic; returns the StatementSet."""
    from pyflink.common import Types

    selects = []
    for i, topic in enumerate(contracts.INPUT_SCHEMAS):
        t_env.execute_sql(ddl.raw_kafka_source(f"raw_{i}", settings.topic(topic), settings,
                                               group_id=group_id(settings, name), bounded=bounded, watermark=timers))
        selects.append(f"SELECT CAST(record_key AS STRING) AS k, CAST(record_value AS STRING) AS v FROM raw_{i}")
    records = t_env.sql_query(" UNION ALL ".join(selects))
    counted = (line_events.keyed(t_env, records, "COALESCE(k, '')")
               .process(_counting_function(timers),
                        output_type=Types.ROW_NAMED(["k", "v"], [Types.STRING(), Types.STRING()]))
               .name(name).uid(f"{name}/per-key"))
    t_env.create_temporary_view("counted", t_env.from_data_stream(counted))
    t_env.execute_sql(ddl.kafka_raw_sink("copied", settings.topic(OUTPUT_TOPIC), settings,
                                         transactional_id_prefix=settings.transactional_id_prefix(name, "copied")))
    statements = t_env.create_statement_set()
    statements.add_insert_sql("INSERT INTO copied SELECT CAST(k AS BYTES), CAST(v AS BYTES) FROM counted")
    return statements


def group_id(settings: config.Settings, name: str = NAME) -> str:
    return settings.transactional_id_prefix(name, "source")
