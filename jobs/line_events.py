"""Shared wiring of the jobs that work per PO line in event time (shipment-matching,
eta-exceptions): the normalized PO, shipment and receipt events as one stream, keyed by
PO line, buffered until the watermark passes them and handed to a job's rules in
event-time order; and the typed sinks for what the rules emit.

A job supplies a `LineRules` object (pure Python over a JSON-serializable state dict):

    new_state(event) -> state
    apply(state, event) -> list[int]        event-time timers to register
    on_time(state, timestamp) -> None       event time really passed `timestamp`
    emit(state, trigger, now_ms) -> {kind: [row dict, ...]}
    expiry(state) -> int | None             event time after which the state may go
    book: Book (optional)                   a record the stage keeps in state["book"] and
                                            applies each event to before `apply` (see Book)
    upgrade(state) -> state (optional)      a state stored by an older build, as kept now

End of input is not silence (SPEC §4): when a bounded run ends Flink fires every pending
timer; which of them real watermarks reached depends on how partitions interleaved. So a
bounded run measures its input's final watermark (greatest event time minus the
out-of-orderness bound) first, and `on_time` / expiry only see timers up to it.

Fault injection (tests only): with SUPPLYFLOW_INJECT_FAILURE=<marker file>, the first time
an event with event_id `inject-failure` is applied the task fails once (the marker file
records it), so Flink restarts from the last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable

import orjson

from connectors import ddl
from connectors.schema_ddl import valid_columns
from supplyflow import config
from udfs import line_book

MAX_WATERMARK = 2**63 - 1
OUT_OF_ORDERNESS_MS = 5_000
FAULT_EVENT_ID = "inject-failure"
# event kinds, applied in this order at the same instant: policies, PO events, shipment
# events, receipts (per line); then on-order changes and movements (per SKU location)
KINDS = ("PL", "PO", "SH", "RC", "OO", "MV")

# One stream of the three event kinds, in a common shape. Receipts find their line through
# the shipment they reference: an append-only join with the distinct lines the shipment's
# events name (one, as a shipment covers one line: each receipt enters the per-line stage
# once, not once per event of its shipment, and the join keeps one row per shipment).
# Which of a line's identical rows the dedup keeps does not matter; a receipt counts once
# per event_id in the line book anyway.
EVENTS = """
SELECT 'PO' AS kind, event_id, event_type, event_time, po_id, po_line, version, supplier_id, warehouse_id, sku,
       ordered_qty AS qty, promised_delivery_time, CAST(NULL AS STRING) AS shipment_id,
       CAST(NULL AS STRING) AS carrier_id, CAST(NULL AS BIGINT) AS eta
FROM valid_purchase_orders
UNION ALL
SELECT 'SH', event_id, event_type, event_time, po_id, po_line, CAST(NULL AS INT), CAST(NULL AS STRING),
       warehouse_id, sku, shipped_qty, CAST(NULL AS BIGINT), shipment_id, carrier_id, eta
FROM valid_shipment_events
UNION ALL
SELECT 'RC', r.event_id, r.event_type, r.event_time, s.po_id, s.po_line, CAST(NULL AS INT), CAST(NULL AS STRING),
       r.warehouse_id, r.sku, r.quantity, CAST(NULL AS BIGINT), r.reference_id, CAST(NULL AS STRING),
       CAST(NULL AS BIGINT)
FROM valid_inventory_movements AS r
JOIN (
  SELECT shipment_id, po_id, po_line FROM (
    SELECT shipment_id, po_id, po_line,
           ROW_NUMBER() OVER (PARTITION BY shipment_id, po_id, po_line ORDER BY seen) AS copy
    FROM (SELECT shipment_id, po_id, po_line, PROCTIME() AS seen FROM valid_shipment_events)
  ) WHERE copy = 1
) AS s ON r.reference_id = s.shipment_id
WHERE r.event_type = 'RECEIPT'
"""


def _dumps(value) -> str:
    """JSON of a rule's state, buffered events or output document. orjson: the state is
    encoded and decoded at least once per event, and with the standard library that was
    about 40 % of the rules' own time (benchmarks/README.md). Whatever orjson refuses
    goes through the standard library, so input never fails the job: integers beyond 64
    bits, which the state cannot hold anyway (every number in it comes from a BIGINT
    column or sums of quantities the contract caps at 10^15; orjson would read one back
    as a float)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def _loads(text: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def final_watermark(t_env) -> int | None:
    """The greatest event time of the bounded input minus the out-of-orderness bound."""
    latest = None
    with t_env.execute_sql("SELECT MAX(event_time) FROM (" + EVENTS + ")").collect() as rows:
        for row in rows:
            latest = row[0] if row[0] is not None else latest
    return None if latest is None else latest - OUT_OF_ORDERNESS_MS


@dataclasses.dataclass(frozen=True)
class Book:
    """A record of a key's events that rules read but the stage keeps (a rules object's
    `book` attribute): `new(event)` starts it at the key's first event, `apply(book,
    event)` records each event, before the rules' `apply` sees it, under the state's
    "book". Rule sets of one stage with the same Book and no `kinds` filter (every event)
    share one copy in the key's state (fire_all)."""

    new: Callable[[dict], dict]
    apply: Callable[[dict, dict], object]


# the line book (udfs/line_book.py) of the per-line stage's rules
LINE_BOOK = Book(new=lambda event: line_book.new_book(event["po_id"], event["po_line"]),
                 apply=line_book.apply_event)


@dataclasses.dataclass(frozen=True)
class RuleSet:
    """One job's rules in a keyed stage. `job` names the outputs (the views
    `<job>_out` and `<job>_out_<kind>`, see register_outputs); `outputs` maps the kinds
    that leave as typed rows to their columns; `kinds` are the event kinds the rules read
    (None: every kind of the stage's input)."""

    job: str
    rules: object
    outputs: dict = dataclasses.field(default_factory=dict)
    kinds: tuple[str, ...] | None = None
    # read from `rules` once: the Book they read, whether they can share it (they read
    # every event), their `upgrade`
    book: Book | None = dataclasses.field(init=False, default=None, compare=False)
    shares_book: bool = dataclasses.field(init=False, default=False, compare=False)
    upgrade: Callable | None = dataclasses.field(init=False, default=None, compare=False)

    def __post_init__(self):
        book = getattr(self.rules, "book", None)
        object.__setattr__(self, "book", book)
        object.__setattr__(self, "shares_book", book is not None and self.kinds is None)
        object.__setattr__(self, "upgrade", getattr(self.rules, "upgrade", None))


def instant_order(event: dict) -> tuple:
    """The order of one instant's events: by kind (KINDS), then PO version, then event_id."""
    return KINDS.index(event["kind"]), event.get("version") or 0, event["event_id"]


def new_state(rules, event: dict, book: Book | None = ...) -> dict:
    """The state `rules` start at `event`, with a book of its own when they read one
    (`book`: that Book, None for none; by default the rules' own)."""
    state = rules.new_state(event)
    book = getattr(rules, "book", None) if book is ... else book
    if book is not None:
        state["book"] = book.new(event)
    return state


def apply(rules, state: dict, event: dict, book: Book | None = ...) -> list[int]:
    """Apply `event` to `state`, its book first (`book`: that Book, None when the book is
    recorded elsewhere; by default the rules' own); the rules' timers."""
    book = getattr(rules, "book", None) if book is ... else book
    if book is not None:
        book.apply(state["book"], event)
    return rules.apply(state, event)


def fire(rules, state: dict | None, pending: list[dict], timestamp: int, time_passed: bool,
         now_ms: int) -> tuple[dict | None, list[int], list[tuple[str, dict]]]:
    """One timer of one key at event time `timestamp`, for one job's `rules`: apply the
    `pending` events of that instant (sorted), let time pass when it really did, emit.

    Returns the new state (None: there is none, or it expired), the event-time timers to
    register, and the (kind, row) outputs. Pure: no Flink, testable alone."""
    timers: list[int] = []
    state = _upgraded(rules, state)
    for event in pending:
        state = state or new_state(rules, event)
        timers.extend(apply(rules, state, event))
    return _settle(rules, state, timers, bool(pending), timestamp, time_passed, pending[-1] if pending else None,
                   now_ms)


def _upgraded(rules, state: dict | None) -> dict | None:
    """A state as the rules keep it now, from one an older build stored (a savepoint
    taken before): the rules' `upgrade(state)` when they have one."""
    upgrade = getattr(rules, "upgrade", None)
    return upgrade(state) if upgrade is not None and state is not None else state


def _settle(rules, state: dict | None, timers: list[int], applied: bool, timestamp: int, time_passed: bool,
            last: dict | None, now_ms: int) -> tuple[dict | None, list[int], list[tuple[str, dict]]]:
    """What follows the instant's events in `fire`: expiry, time passing, the outputs."""
    if state is None:
        return None, timers, []
    expiry = rules.expiry(state)
    if not applied and time_passed and expiry is not None and timestamp >= expiry:
        return None, timers, []  # state TTL, in event time
    if time_passed:
        rules.on_time(state, timestamp)
    trigger = last or {"event_time": timestamp, "event_id": f"timer:{timestamp}"}
    out = [(kind, {**doc, "updated_at": now_ms}) for kind, rows in rules.emit(state, trigger, now_ms).items()
           for doc in rows]
    # one TTL timer per expiry time (a timer behind the watermark fires in order within
    # the same watermark advance, before later events are applied)
    if expiry is not None and state.get("expiry_timer") != expiry:
        state["expiry_timer"] = expiry
        timers.append(expiry)
    return state, timers, out


def fire_all(rule_sets: list[RuleSet], stored: dict | None, pending: list[dict], timestamp: int,
             time_passed: bool, now_ms: int) -> tuple[dict | None, list[int], list[tuple[str, str, dict]]]:
    """`fire` for every job of a stage; outputs are (job, kind, row).

    One job keeps its state as `fire` leaves it. Several jobs share the key's state:
    {"subs": {job: state}, "timers": {job: [timestamps]}, "book": book}. A job takes part
    in a timer only when it would have fired in a job of its own: events of its kinds are
    due now, or the timer is one it registered (its own timeouts and TTL). So each job's
    outputs are exactly those of the job alone, and its timeouts never make the others
    emit.

    The jobs whose rules read the same Book over every event keep one copy of it, the
    key's "book", recorded once per event (the line book was three quarters of the
    per-line state, benchmarks/README.md): each such job's state starts with the key's
    first event, so their books are the same. A job whose state expired while others kept
    the book starts a book of its own when its next event comes, as it would alone, and
    keeps it in its own state ("book" in a job's state: its own; absent: the shared one).
    The shared book goes when no job reads it."""
    if len(rule_sets) == 1:
        state, timers, out = fire(rule_sets[0].rules, stored, pending, timestamp, time_passed, now_ms)
        return state, timers, [(rule_sets[0].job, kind, doc) for kind, doc in out]
    stored = stored or {"subs": {}, "timers": {}}
    subs, owned = stored["subs"], stored["timers"]
    book = stored.pop("book", None)
    shared_kind = next((rs.book for rs in rule_sets if rs.shares_book), None)  # the Book shared, if any
    taking = []  # [rule set, its events now, its other timers, its state, reads the shared book, its timers]
    for rule_set in rule_sets:
        mine = pending if rule_set.kinds is None else [e for e in pending if e["kind"] in rule_set.kinds]
        own = owned.pop(rule_set.job, [])
        if not mine and timestamp not in own:
            if own:
                owned[rule_set.job] = own
            continue
        state = subs.pop(rule_set.job, None)
        if state is not None and rule_set.upgrade is not None:
            state = rule_set.upgrade(state)
        # the shared book: a state keeping none of its own, or one starting now while no job reads it
        shares = (rule_set.shares_book and rule_set.book is shared_kind
                  and ("book" not in state if state is not None else book is None and bool(mine)))
        taking.append([rule_set, mine, [t for t in own if t != timestamp], state, shares, []])
    sharing = [entry for entry in taking if entry[4]]
    if not sharing:  # each job on its own, one after the other
        for entry in taking:
            rule_set, mine, _, state, _, due = entry
            for event in mine:
                state = entry[3] = state or new_state(rule_set.rules, event, rule_set.book)
                due.extend(apply(rule_set.rules, state, event, rule_set.book))
    else:  # event by event: the shared book records each once, before the jobs apply it
        book = book if book is not None else shared_kind.new(pending[0])
        for entry in sharing:
            if entry[3] is not None:
                entry[3]["book"] = book
        for event in pending:
            shared_kind.apply(book, event)
            for entry in taking:
                rule_set, _, _, state, shares, due = entry
                if rule_set.kinds is not None and event["kind"] not in rule_set.kinds:
                    continue
                own_book = None if shares else rule_set.book
                if state is None:
                    state = entry[3] = new_state(rule_set.rules, event, own_book)
                    if shares:
                        state["book"] = book
                due.extend(apply(rule_set.rules, state, event, own_book))
    timers, outputs = [], []
    for rule_set, mine, own, state, shares, due in taking:
        state, due, out = _settle(rule_set.rules, state, due, bool(mine), timestamp, time_passed,
                                  mine[-1] if mine else None, now_ms)
        if state is not None:
            if shares:
                del state["book"]
            subs[rule_set.job] = state
        own.extend(t for t in due if t not in own)
        if own:
            owned[rule_set.job] = sorted(own)
        timers.extend(due)
        outputs.extend((rule_set.job, kind, doc) for kind, doc in out)
    readers = (rs for rs in rule_sets if rs.shares_book and rs.book is shared_kind and rs.job in subs)
    if book is not None and any("book" not in subs[rs.job] for rs in readers):
        stored["book"] = book
    return (stored if subs or owned else None), timers, outputs


def _fail_once(pending: list[dict], fault_marker: str) -> None:
    for event in pending:
        if event["event_id"] == FAULT_EVENT_ID and not os.path.exists(fault_marker):
            open(fault_marker, "w").close()
            raise RuntimeError("injected failure (SUPPLYFLOW_INJECT_FAILURE)")


def output_label(rule_sets: list[RuleSet], job: str, kind: str) -> str:
    """The `kind` column of an untyped output row: the kind alone when the stage runs one
    job (as it always did), `<job>:<kind>` when it runs several."""
    return kind if len(rule_sets) == 1 else f"{job}:{kind}"


def _process_function(rule_sets: list[RuleSet], final_wm: int | None, fault_marker: str | None,
                      typed: dict | None = None):
    """`typed`: (job, kind) -> (OutputTag, [(field, converter)]): those kinds go to their
    side output as typed rows; every other kind to the main output as (label, JSON doc),
    see output_label."""
    from pyflink.common import Row, Types
    from pyflink.datastream import KeyedProcessFunction
    from pyflink.datastream.state import MapStateDescriptor, ValueStateDescriptor

    class PerKey(KeyedProcessFunction):
        """Per key: buffer events until the watermark passes, apply in event-time order."""

        def open(self, runtime_context):
            self.state = runtime_context.get_state(ValueStateDescriptor("line_state", Types.STRING()))
            self.buffer = runtime_context.get_map_state(
                MapStateDescriptor("pending_events", Types.LONG(), Types.STRING()))

        def process_element(self, row, ctx):
            event = row.as_dict()
            pending = _loads(self.buffer.get(event["event_time"]) or "[]")
            pending.append(event)
            self.buffer.put(event["event_time"], _dumps(pending))
            ctx.timer_service().register_event_time_timer(event["event_time"])

        def on_timer(self, timestamp, ctx):
            timers = ctx.timer_service()
            stored = self.state.value()
            pending = _loads(self.buffer.get(timestamp) or "[]")
            if pending:
                self.buffer.remove(timestamp)
            end_of_input = timers.current_watermark() >= MAX_WATERMARK
            # did event time really pass `timestamp`, or did the bounded input just end?
            time_passed = not end_of_input or (final_wm is not None and timestamp <= final_wm)
            pending.sort(key=instant_order)
            if fault_marker:
                _fail_once(pending, fault_marker)
            state, due, out = fire_all(rule_sets, _loads(stored) if stored else None, pending, timestamp,
                                       time_passed, int(time.time() * 1000))
            for t in due:
                timers.register_event_time_timer(t)
            for job, kind, doc in out:
                tag, fields = (typed or {}).get((job, kind), (None, None))
                if tag is None:
                    yield Row(output_label(rule_sets, job, kind), _dumps(doc))
                else:
                    yield tag, Row(*[convert(doc.get(field)) for field, convert in fields])
            if state is not None:
                text = _dumps(state)
                if text != stored:  # a deadline that changed nothing: no state write
                    self.state.update(text)
            elif stored:
                self.state.clear()

    return PerKey()


def declare_sources(t_env, settings: config.Settings, job: str, bounded: bool, topics=None) -> None:
    """The `valid_*` tables (normalized events with watermarks) the job reads; by default
    the PO, shipment and movement topics."""
    for topic in topics or (config.PURCHASE_ORDERS, config.SHIPMENT_EVENTS, config.INVENTORY_MOVEMENTS):
        t_env.execute_sql(ddl.valid_events_source(
            valid_table(topic), settings.topic(config.VALID_TOPICS[topic]), valid_columns(topic), settings,
            group_id=settings.transactional_id_prefix(job, "source"), bounded=bounded,
            out_of_orderness_s=OUT_OF_ORDERNESS_MS // 1000,
        ))


def valid_table(topic: str) -> str:
    """The SQL name of an input topic's normalized events, e.g. valid_purchase_orders."""
    return "valid_" + topic.removeprefix("scm.").replace("-", "_")


def key_of(*columns: str, sep: str) -> str:
    """The SQL expression of a string key joining `columns` with `sep`, NULL as 'None': the
    same strings the Python key selectors before it gave, so state in older savepoints is
    found under the same keys."""
    parts = [f"COALESCE(CAST({ddl.quote(c)} AS STRING), 'None')" for c in columns]
    return "CONCAT(" + f", '{sep}', ".join(parts) + ")"


# SQL type of a column -> (SQL type of the keyed row's field, its DataStream type)
_KEYED_TYPES = {"VarCharType": ("STRING", "STRING"), "CharType": ("STRING", "STRING"),
                "IntType": ("INT", "INT"), "BigIntType": ("BIGINT", "LONG")}


def keyed(t_env, table, key: str):
    """`table` as a KeyedStream on the SQL expression `key`, computed by Flink SQL.

    PyFlink's `key_by` runs its key selector in Python, as an operator of its own in front
    of the keyed one: one more JVM-to-Python crossing per record, about a quarter of the
    suite's CPU (benchmarks/README.md). Here SQL puts (key, row) together, the legacy typed
    conversion gives the DataStream the RowTypeInfo Flink's Python keyed operators require,
    and the stream is keyed on field 0 by the same Java selector `key_by` ends with."""
    from pyflink.common import Types
    from pyflink.datastream.data_stream import KeyedStream
    from pyflink.java_gateway import get_gateway
    from pyflink.table.expressions import call_sql

    schema = table.get_schema()
    names = schema.get_field_names()
    sql_types, infos = [], []
    for name, data_type in zip(names, schema.get_field_data_types(), strict=True):
        sql_type, info = _KEYED_TYPES[type(data_type).__name__]
        sql_types.append(f"{ddl.quote(name)} {sql_type}")
        infos.append(getattr(Types, info)())
    row = f"CAST(ROW({', '.join(map(ddl.quote, names))}) AS ROW<{', '.join(sql_types)}>)"
    value_type = Types.ROW_NAMED(names, infos)
    pairs = t_env.to_append_stream(table.select(call_sql(key).alias("k"), call_sql(row).alias("v")),
                                   Types.ROW([Types.STRING(), value_type]))
    j_keyed = pairs._j_data_stream.keyBy(get_gateway().jvm.KeyByKeySelector(),
                                         Types.ROW([Types.STRING()]).get_java_type_info())
    return KeyedStream(j_keyed, value_type, pairs)


def in_event_time(t_env, table, key: str, rule_sets: list[RuleSet], final_wm: int | None, uid: str,
                  watermarks: bool = False, slot_group: str | None = None) -> None:
    """Rows of `table`, keyed by the SQL expression `key` (see `keyed`), handed to each
    job's rules of `rule_sets` in event-time order by one keyed operator (uid `uid`).
    Each job's outputs become temporary views (see register_outputs): typed rows for the
    kinds of its `outputs` (typed in Python once, not in SQL with a JSON_VALUE per
    column), (kind, JSON doc) for the others. `watermarks`: the (kind, doc) views carry
    the operator's watermarks, for a keyed stage that reads them in event time.
    `slot_group`: the slot-sharing group of the operator (and of the SQL after it, which
    inherits it) when it runs on a cluster (see `on_a_cluster`)."""
    from pyflink.common import Types
    from pyflink.datastream import OutputTag

    def tag_name(rule_set, kind):
        return f"{uid}/{kind}" if len(rule_sets) == 1 else f"{uid}/{rule_set.job}/{kind}"

    typed = {(rs.job, kind): (OutputTag(tag_name(rs, kind), _row_type(columns)), _converters(columns))
             for rs in rule_sets for kind, columns in rs.outputs.items()}
    stream = (keyed(t_env, table, key)
              .process(_process_function(rule_sets, final_wm, os.environ.get("SUPPLYFLOW_INJECT_FAILURE"), typed),
                       output_type=Types.ROW_NAMED(["kind", "doc"], [Types.STRING(), Types.STRING()]))
              .name(uid.replace("/", "-")).uid(uid))
    if slot_group and on_a_cluster(t_env):
        stream = stream.slot_sharing_group(slot_group)
    register_outputs(t_env, rule_sets, stream, {k: side_output(stream, tag) for k, (tag, _) in typed.items()},
                     uid.replace("/", "_").replace("-", "_"), watermarks)


def on_a_cluster(t_env) -> bool:
    """Whether the job is built for a Flink cluster (`supplyflow submit`, Kubernetes), not
    for the embedded MiniCluster of `supplyflow run`.

    In thread mode each TaskManager JVM embeds one Python interpreter, so every Python
    operator of a TaskManager shares one GIL. On a cluster a keyed Python stage can have
    a slot-sharing group of its own, so that its slot, and with the cluster's slot
    balancing its TaskManager and interpreter, is not another stage's: core's per-line
    operator, the suite's bottleneck, waited for the per-location one's GIL (2,000
    events/s held with them apart, not with them together: benchmarks/README.md). The
    MiniCluster runs every slot in one JVM and one interpreter, where a group of its own
    would only ask for more slots."""
    return t_env.get_config().get("execution.target", "local") != "local"


def side_output(stream, tag):
    """The side output `tag` of a Python operator's `stream`, as the typed rows the JVM
    already holds. PyFlink's `get_side_output` appends an identity Python map
    (`map(lambda i: i)`), so every side-output row crossed into Python and back once
    more: in thread mode, where the operator converts each side-output row to the tag's
    type in the JVM (`SideOutputContext.collectSideOutputById`), that map was a fifth of
    the per-line operator's thread and two fifths of the per-location one's
    (benchmarks/README.md). Every Python operator of the suite runs in thread mode
    (flink-conf). The operator learns its side outputs from the DataStream graph, which
    the Table API's conversions do not walk, so the tag is registered with it here, as
    PyFlink's own `PythonConfigUtil.processSideOutput` does."""
    from pyflink.datastream import DataStream
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    j_tag = tag.get_java_output_tag()
    factory = jvm.org.apache.flink.python.util.PythonConfigUtil.getOperatorFactory(
        stream._j_data_stream.getTransformation())
    factory.getOperator().addSideOutputTags(jvm.java.util.Collections.singletonList(j_tag))
    return DataStream(stream._j_data_stream.getSideOutput(j_tag))


def _split(column: str) -> tuple[str, str]:
    name, typ = column.split(None, 1)
    return name.strip("`"), typ


def _row_type(columns: list[str]):
    """The row type of a typed output: timestamps travel as epoch milliseconds."""
    from pyflink.common import Types

    types = {"STRING": Types.STRING(), "INT": Types.INT(), "BIGINT": Types.LONG()}
    names, field_types = [], []
    for column in columns:
        name, typ = _split(column)
        names.append(name)
        field_types.append(Types.LONG() if typ.startswith("TIMESTAMP_LTZ") else types[typ])
    return Types.ROW_NAMED(names, field_types)


def _as_string(value):
    """A document value as SQL's JSON_VALUE would give it: scalars as text, no objects."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return None


def _as_int(value):
    return None if value is None else int(value)


def _converters(columns: list[str]) -> list:
    return [(name, _as_string if typ == "STRING" else _as_int) for name, typ in map(_split, columns)]


def typed_view(t_env, view: str, stream, columns: list[str]) -> None:
    """Register the typed rows of `stream` as temporary view `view` with `columns`."""
    t_env.create_temporary_view(view + "_rows", t_env.from_data_stream(stream))
    exprs = []
    for column in columns:
        name, typ = _split(column)
        quoted = ddl.quote(name)
        exprs.append(f"TO_TIMESTAMP_LTZ({quoted}, 3) AS {quoted}" if typ.startswith("TIMESTAMP_LTZ") else quoted)
    t_env.create_temporary_view(view, t_env.sql_query(f"SELECT {', '.join(exprs)} FROM {view}_rows"))


def per_line_stream(t_env, job: str, bounded: bool, rule_sets: list[RuleSet], name: str = "per-line",
                    watermarks: bool = False) -> None:
    """The PO, shipment and receipt events per PO line through the rules of `rule_sets`
    (see in_event_time), in the keyed operator `<job>/<name>`."""
    final_wm = final_watermark(t_env) if bounded else None
    in_event_time(t_env, t_env.sql_query(EVENTS), key_of("po_id", "po_line", sep="#"), rule_sets, final_wm,
                  f"{job}/{name}", watermarks)


def declare(t_env, settings: config.Settings, job: str, bounded: bool, rules,
            outputs: dict[str, list[str]]) -> None:
    """Sources → per-line rules; each kind of `outputs` (kind -> columns) becomes the
    temporary view `<job>_out_<kind>` (see `add_sinks`), the other kinds the view
    `<job>_out` with columns (kind, doc)."""
    declare_sources(t_env, settings, job, bounded)
    per_line_stream(t_env, job, bounded, [RuleSet(job, rules, outputs)])


def _source_watermark():
    """The schema that makes a DataStream → Table conversion forward the stream's
    watermarks. Without it the conversion emits none, and a keyed stage reading the view
    in event time would only ever advance once that input went idle (after
    `table.exec.source.idle-timeout` without a row: never, on a busy stream)."""
    from pyflink.table import DataTypes, Schema

    return (Schema.new_builder()
            .column_by_metadata("rowtime", DataTypes.TIMESTAMP_LTZ(3))
            .watermark("rowtime", "SOURCE_WATERMARK()")
            .build())


def register_outputs(t_env, rule_sets: list[RuleSet], stream, sides: dict, stage: str, watermarks: bool) -> None:
    """The views of a keyed stage's output, per job: `<job>_out` (kind, doc) and
    `<job>_out_<kind>` for each typed kind (`sides`: (job, kind) -> its side output)."""
    schema = [_source_watermark()] if watermarks else []
    if len(rule_sets) == 1:
        t_env.create_temporary_view(view_name(rule_sets[0].job), t_env.from_data_stream(stream, *schema))
    else:
        t_env.create_temporary_view(f"{stage}_out", t_env.from_data_stream(stream, *schema))
        for rule_set in rule_sets:
            label = output_label(rule_sets, rule_set.job, "")
            t_env.create_temporary_view(view_name(rule_set.job), t_env.sql_query(
                f"SELECT SUBSTRING(kind FROM {len(label) + 1}) AS kind, doc FROM {stage}_out "
                f"WHERE kind LIKE '{label}%'"))
    for rule_set in rule_sets:
        for kind, columns in rule_set.outputs.items():
            typed_view(t_env, f"{view_name(rule_set.job)}_{kind}", sides[(rule_set.job, kind)], columns)


def view_name(job: str) -> str:
    return job.replace("-", "_") + "_out"


ALERT_COUNTER_PREFIX = "alerts_of_type_"


def alert_counter_sink(alert_type: str) -> str:
    """The counting sink (see `add_counter`) of a job's alerts of one type."""
    return ALERT_COUNTER_PREFIX + alert_type.lower()


def add_counter(t_env, statements, sink: str, view: str, where: str) -> None:
    """Count the rows of `view` that satisfy `where` into the blackhole sink `sink`: Flink's
    own `numRecordsIn` of that sink is the count, in every execution mode (Python metrics
    are lost in thread mode, see README)."""
    t_env.execute_sql(f"CREATE TEMPORARY TABLE {sink} (n INT) WITH ('connector' = 'blackhole')")
    statements.add_insert_sql(f"INSERT INTO {sink} SELECT 1 FROM {view} WHERE {where}")


def add_sinks(t_env, settings: config.Settings, job: str, statements, kind: str, columns: list[str],
              pg_table: str | None = None, primary_key: list[str] | None = None,
              topic: str | None = None, topic_key: str | None = None,
              alert_types: tuple[str, ...] = (), deployment: str | None = None) -> None:
    """Write one output kind (declared with its columns when the job's rules were, see
    `declare`) to a PostgreSQL upsert table and/or an exactly-once topic; for alerts,
    count each of `alert_types` (see `alert_counter_sink`). `deployment`: the Flink job
    that runs `job` together with others (jobs/core.py); its sink names and
    transactional ids then name both, so they are unique in the job and on the broker."""
    rows = f"{view_name(job)}_{kind}"
    name = kind if deployment is None else rows
    for alert_type in alert_types:
        add_counter(t_env, statements, alert_counter_sink(alert_type), rows, f"alert_type = '{alert_type}'")
    if pg_table:
        sink = f"{name}_table"
        t_env.execute_sql(ddl.jdbc_upsert_sink(sink, pg_table, columns, primary_key or [], settings))
        statements.add_insert_sql(ddl.insert_select(sink, columns, rows, jdbc=True))
    if topic:
        sink = f"{name}_topic"
        t_env.execute_sql(ddl.kafka_json_sink(sink, settings.topic(topic), columns, topic_key or "", settings,
                                              transactional_id_prefix=settings.transactional_id_prefix(
                                                  deployment or job, sink)))
        statements.add_insert_sql(ddl.insert_select(sink, columns, rows))
