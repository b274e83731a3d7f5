"""Flink SQL DDL for Kafka sources/sinks and PostgreSQL (JDBC) upsert sinks.

Guarantees are explicit here, not left to defaults:
- Kafka sources read with isolation.level=read_committed (our own outputs are
  transactional) and, in bounded mode, stop at the end offsets seen at start.
- Kafka sinks are EXACTLY_ONCE with a transactional-id prefix unique per job and sink,
  and a transaction timeout below the broker's maximum.
- JDBC sinks upsert on the declared primary key, so a replay rewrites the same rows.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from supplyflow import config


def _with(options: dict[str, str]) -> str:
    body = ",\n".join(f"  '{k}' = '{v}'" for k, v in options.items())
    return f"WITH (\n{body}\n)"


def _columns(columns: Iterable[str]) -> str:
    return ",\n".join(f"  {c}" for c in columns)


def quote(name: str) -> str:
    """Backtick-quote an identifier (topic-ish names and reserved words)."""
    return f"`{name}`"


def raw_kafka_source(
    table: str,
    topic: str,
    settings: config.Settings,
    group_id: str,
    bounded: bool,
    proc_time: bool = False,
    from_group_offsets: bool = False,
    end_offsets: dict[int, int] | None = None,
    watermark: bool = False,
) -> str:
    """A Kafka source of raw bytes with the record's coordinates, for validation at the edge.

    Columns: record_key BYTES, record_value BYTES, src_topic, src_partition, src_offset,
    src_timestamp (Kafka record time), and proc_time when asked. Nothing is parsed here, so
    no input can fail the source. `from_group_offsets`: resume where this consumer group's
    last completed checkpoint left off (the earliest offset the first time) instead of
    reading from the earliest offset. `end_offsets` (partition -> offset): where a bounded
    source stops, instead of the end offsets at job start. `watermark`: event time is the
    Kafka record time, with watermarks at it (for benchmarks/keyed_floor.py's timers).
    """
    columns = [
        "record_key BYTES",
        "record_value BYTES",
        "src_topic STRING METADATA FROM 'topic' VIRTUAL",
        "src_partition INT METADATA FROM 'partition' VIRTUAL",
        "src_offset BIGINT METADATA FROM 'offset' VIRTUAL",
        "src_timestamp TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL",
    ] + (["proc_time AS PROCTIME()"] if proc_time else []) + (
        ["WATERMARK FOR src_timestamp AS src_timestamp"] if watermark else [])
    options = _read_committed_source(topic, settings, group_id, {
        "scan.startup.mode": "group-offsets" if from_group_offsets else "earliest-offset",
        "key.format": "raw",
        "key.fields": "record_key",
        "value.format": "raw",
        "value.fields-include": "EXCEPT_KEY",
    })
    if from_group_offsets:
        options["properties.auto.offset.reset"] = "earliest"
    if bounded and end_offsets is not None:
        options["scan.bounded.mode"] = "specific-offsets"
        options["scan.bounded.specific-offsets"] = ";".join(
            f"partition:{p},offset:{o}" for p, o in sorted(end_offsets.items()))
    elif bounded:
        options["scan.bounded.mode"] = "latest-offset"
    return f"CREATE TEMPORARY TABLE {quote(table)} (\n{_columns(columns)}\n) {_with(options)}"


# How the JSON sinks write their values: every column, timestamps in ISO-8601, decimals as numbers
_JSON_VALUES = {
    "value.format": "json",
    "value.fields-include": "ALL",
    "value.json.timestamp-format.standard": "ISO-8601",
    "value.json.encode.decimal-as-plain-number": "true",
}


def kafka_json_sink(
    table: str,
    topic: str,
    columns: Sequence[str],
    key_field: str,
    settings: config.Settings,
    transactional_id_prefix: str,
) -> str:
    """An append-only, EXACTLY_ONCE Kafka sink writing JSON values keyed by key_field: the
    raw string of one column, or a JSON object of several ("sku;warehouse_id")."""
    options = _exactly_once_sink(topic, settings, transactional_id_prefix, {
        "key.format": "json" if ";" in key_field else "raw",
        "key.fields": key_field,
        **_JSON_VALUES,
    })
    return f"CREATE TEMPORARY TABLE {quote(table)} (\n{_columns(columns)}\n) {_with(options)}"


def kafka_upsert_sink(table: str, topic: str, columns: Sequence[str], primary_key: Sequence[str],
                      settings: config.Settings, transactional_id_prefix: str) -> str:
    """An EXACTLY_ONCE upsert-kafka sink: JSON values keyed by the primary key (its raw
    string when it is one column, else a JSON object), as kafka_json_sink writes them, for
    a changelog (a deletion becomes a tombstone)."""
    options = _exactly_once_sink(topic, settings, transactional_id_prefix, {
        "key.format": "raw" if len(primary_key) == 1 else "json", **_JSON_VALUES})
    options["connector"] = "upsert-kafka"
    cols = [*columns, f"PRIMARY KEY ({', '.join(primary_key)}) NOT ENFORCED"]
    return f"CREATE TEMPORARY TABLE {quote(table)} (\n{_columns(cols)}\n) {_with(options)}"


def _kafka(topic: str, settings: config.Settings, options: dict[str, str]) -> dict[str, str]:
    """Kafka connector options for topic, with the client settings (bootstrap, SASL/SSL)."""
    out = {"connector": "kafka", "topic": topic, **options}
    out.update({f"properties.{k}": v for k, v in settings.kafka_flink_properties().items()})
    return out


# What a transactional producer waits for before it sends a batch. Its records are read
# (read_committed) only after the checkpoint commits the transaction, seconds later, so a
# short wait adds no visible latency, and it saves the per-record wake-up of the
# producer's I/O thread (a system call each, seen in the task threads' stacks) that the
# client's default of 0 ms costs.
SINK_LINGER_MS = 20
SINK_BATCH_BYTES = 256 * 1024


def _exactly_once_sink(topic: str, settings: config.Settings, prefix: str, options: dict[str, str]) -> dict[str, str]:
    """Sink options: transactions with a unique id prefix and a timeout below the broker's."""
    return _kafka(topic, settings, {
        **options,
        "sink.delivery-guarantee": "exactly-once",
        "sink.transactional-id-prefix": prefix,
        "properties.transaction.timeout.ms": str(config.SINK_TRANSACTION_TIMEOUT_MS),
        "properties.linger.ms": str(SINK_LINGER_MS),
        "properties.batch.size": str(SINK_BATCH_BYTES),
    })


def _read_committed_source(topic: str, settings: config.Settings, group_id: str,
                           options: dict[str, str]) -> dict[str, str]:
    """Source options: a consumer group and isolation.level=read_committed."""
    return _kafka(topic, settings, {
        "properties.group.id": group_id,
        "properties.isolation.level": "read_committed",
        **options,
    })


def kafka_raw_sink(table: str, topic: str, settings: config.Settings, transactional_id_prefix: str) -> str:
    """An append-only, EXACTLY_ONCE Kafka sink of (record_key BYTES, record_value BYTES)."""
    options = _exactly_once_sink(topic, settings, transactional_id_prefix, {
        "key.format": "raw",
        "key.fields": "record_key",
        "value.format": "raw",
        "value.fields-include": "EXCEPT_KEY",
    })
    return f"CREATE TEMPORARY TABLE {quote(table)} (\n  record_key BYTES,\n  record_value BYTES\n) {_with(options)}"


def jdbc_upsert_sink(
    table: str,
    pg_table: str,
    columns: Sequence[str],
    primary_key: Sequence[str],
    settings: config.Settings,
) -> str:
    """A PostgreSQL sink upserting on primary_key (INSERT … ON CONFLICT DO UPDATE).

    The JDBC connector has no TIMESTAMP_LTZ: such columns become TIMESTAMP(3) holding UTC
    (the JVMs run with user.timezone=UTC, so PostgreSQL's timestamptz gets UTC); insert
    through `insert_select` to convert.
    """
    cols = [jdbc_column(c) for c in columns] + [f"PRIMARY KEY ({', '.join(primary_key)}) NOT ENFORCED"]
    options = {
        "connector": "jdbc",
        "url": settings.jdbc_url,
        "table-name": f"{config.PG_SCHEMA}.{pg_table}",
        "username": settings.pg_user,
        "password": settings.pg_password,
        "sink.buffer-flush.max-rows": "1000",
        "sink.buffer-flush.interval": "1s",
        "sink.max-retries": "5",
    }
    return f"CREATE TEMPORARY TABLE {quote(table)} (\n{_columns(cols)}\n) {_with(options)}"


def jdbc_column(column: str) -> str:
    """A column declaration as the JDBC connector can write it (LTZ -> TIMESTAMP)."""
    return column.replace("TIMESTAMP_LTZ(", "TIMESTAMP(")


def column_name(column: str) -> str:
    """The (quoted) name of a column declaration such as "`key` STRING"."""
    return column.split()[0]


def insert_select(sink: str, columns: Sequence[str], source: str, jdbc: bool = False) -> str:
    """INSERT INTO sink SELECT the columns from source, casting LTZ columns for JDBC sinks."""
    exprs = []
    for col in columns:
        name = column_name(col)
        if jdbc and "TIMESTAMP_LTZ(" in col:
            exprs.append(f"CAST({name} AS {jdbc_column(col).split(None, 1)[1]}) AS {name}")
        else:
            exprs.append(name)
    return f"INSERT INTO {quote(sink)} SELECT {', '.join(exprs)} FROM {source}"


def valid_events_source(table: str, topic: str, columns: Sequence[str], settings: config.Settings,
                        group_id: str, bounded: bool, out_of_orderness_s: int = 5) -> str:
    """A read_committed Kafka source of normalized events (`scm.valid.*`) with an event-time
    attribute `rowtime` (from epoch-ms event_time) and a bounded-out-of-orderness watermark
    (SPEC §4; idle partitions are released by table.exec.source.idle-timeout).

    Bounded sources declare no watermark: event time then advances only at the end of the
    input, all at once, so every event is applied in event-time order and none is late.
    Which events a running watermark would have overtaken depends on how partitions
    interleave while reading, and a replay must not (SPEC §4 replay determinism)."""
    cols = list(columns) + ["rowtime AS TO_TIMESTAMP_LTZ(event_time, 3)"]
    if not bounded:
        cols.append(f"WATERMARK FOR rowtime AS rowtime - INTERVAL '{out_of_orderness_s}' SECOND")
    return kafka_json_source(table, topic, cols, settings, group_id, bounded)


def kafka_json_source(table: str, topic: str, columns: Sequence[str], settings: config.Settings,
                      group_id: str, bounded: bool) -> str:
    """A read_committed Kafka source of JSON values from the earliest offset; bounded: up to
    the end offsets seen when the query starts."""
    options = _read_committed_source(topic, settings, group_id, {
        "scan.startup.mode": "earliest-offset",
        "value.format": "json",
    })
    if bounded:
        options["scan.bounded.mode"] = "latest-offset"
    return f"CREATE TEMPORARY TABLE {quote(table)} (\n{_columns(columns)}\n) {_with(options)}"


def sql_file(name: str) -> str:
    """The query of sql/flink/NAME (comments kept, trailing `;` dropped): the same text an
    analyst runs in `supplyflow sql`."""
    return (config.ROOT / "sql" / "flink" / name).read_text().strip().rstrip(";")
