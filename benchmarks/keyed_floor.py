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
from jobs import line_events
from supplyflow import config

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
    """The pass-through's sources and sink (benchmarks/passthrough.py) with the counting
    function between them (`timers`: each record buffered until the next watermark);
    returns the StatementSet."""

    def through(t_env, records):
        from pyflink.common import Types
        from pyflink.table.expressions import call_sql

        texts = records.select(call_sql("CAST(record_key AS STRING)").alias("k"),
                               call_sql("CAST(record_value AS STRING)").alias("v"))
        counted = (line_events.keyed(t_env, texts, "COALESCE(k, '')")
                   .process(_counting_function(timers),
                            output_type=Types.ROW_NAMED(["k", "v"], [Types.STRING(), Types.STRING()]))
                   .name(name).uid(f"{name}/per-key"))
        return t_env.from_data_stream(counted).select(call_sql("CAST(k AS BYTES)"), call_sql("CAST(v AS BYTES)"))

    return passthrough.build(t_env, settings, bounded, name=name, through=through, watermark=timers)


def group_id(settings: config.Settings, name: str = NAME) -> str:
    return passthrough.group_id(settings, name)
