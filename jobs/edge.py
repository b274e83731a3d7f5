"""The `edge` job: validation at the edge (SPEC §3), once for the whole suite.

Reads every input topic as raw bytes with its Kafka coordinates, so no record can fail
a source. One Python function (udfs/validation.py, compiled from schemas/) decides per
record: accepted records leave normalized (SKU, UTC epoch-ms timestamps, whole EA) and
de-duplicated by event_id within the dedup window to `scm.valid.<topic>`; every other
record goes, exactly once, to the `scm.dlq` topic and the `scm.dlq_events` table with
its error code and detail. The other jobs read only `scm.valid.*`, so a record is
validated once and dead-lettered once however many jobs use its topic.

    supplyflow run edge [--bounded]
"""

from __future__ import annotations

from connectors import ddl
from jobs.line_events import add_counter
from supplyflow import config, contracts, kafka_io

NAME = "edge"

DLQ_COLUMNS = [
    "dlq_id STRING",
    "source_topic STRING",
    "source_partition INT",
    "source_offset BIGINT",
    "source_timestamp BIGINT",
    "`key` STRING",
    "`value` STRING",
    "value_encoding STRING",
    "error_code STRING",
    "error_detail STRING",
    "detected_at TIMESTAMP_LTZ(3)",
]
VALID_COLUMNS = ["entity_key STRING", "payload STRING"]


def job_config(settings: config.Settings) -> dict[str, str]:
    """Job-level options.

    - The only state of this job is the dedup memory, whose TTL is the dedup window
      (SPEC §3, default 10 minutes).
    - The validation function runs in thread mode (flink-conf), as every Python
      operator of the suite: its counters are SQL's (`COUNTERS`), not Python metrics,
      which PyFlink drops in thread mode.
    - Object reuse: every verdict row fans out to the DLQ, the accepted branch and the
      40 counting sinks, chained in one thread, and without reuse Flink copies the row
      (raw value, payload and all) for each of them but the last: a sixth of the
      validation thread (async-profiler, 2026-12-06). Every operator here is Flink SQL
      or a sink, which consume a row before they return (the JDBC sink copies what it
      buffers when reuse is on), so sharing one row among them changes nothing.
    """
    return {"table.exec.state.ttl": f"{settings.dedup_window_minutes} min", "pipeline.object-reuse": "true"}


def _register_udf(t_env) -> None:
    from pyflink.table import DataTypes
    from pyflink.table.udf import udtf

    from udfs.flink_validate import ValidateRecord

    # accepted, late, event_id, entity_key, payload, error_code, error_detail
    result = [DataTypes.BOOLEAN()] * 2 + [DataTypes.STRING()] * 5
    inputs = [DataTypes.STRING(), DataTypes.INT(), DataTypes.BYTES()]
    t_env.create_temporary_function("validate_record", udtf(ValidateRecord(), input_types=inputs, result_types=result))


def _source_name(topic: str) -> str:
    return "raw_" + topic.replace("scm.", "").replace("-", "_")


# Every input record with its logical topic (the name without the namespace).
_RAW = """
SELECT src_topic, src_partition, src_offset, src_timestamp, record_key, record_value, proc_time,
       '{logical}' AS logical_topic
FROM {source}
"""

# One row per input record with the verdict; the function runs once per record, in one
# Python operator for all topics (one Python worker, not one per topic).
_CHECK = """
SELECT src_topic, src_partition, src_offset, src_timestamp, record_key, record_value, proc_time,
       logical_topic, accepted, late, event_id, entity_key, payload, error_code, error_detail
FROM raw_inputs,
     LATERAL TABLE(validate_record(logical_topic, src_partition, record_value))
       AS v(accepted, late, event_id, entity_key, payload, error_code, error_detail)
"""

# Rejected records as DLQ rows. The value is kept losslessly: UTF-8 text when the bytes
# are UTF-8 (decode + re-encode gives them back), else base64 with value_encoding.
_DLQ_ROWS = """
SELECT
  src_topic || ':' || CAST(src_partition AS STRING) || ':' || CAST(src_offset AS STRING) AS dlq_id,
  src_topic AS source_topic,
  src_partition AS source_partition,
  src_offset AS source_offset,
  -- epoch milliseconds, without the INT overflow of TIMESTAMPDIFF in seconds
  CAST(TIMESTAMPDIFF(MINUTE, TO_TIMESTAMP_LTZ(0, 3), src_timestamp) AS BIGINT) * 60000
    + EXTRACT(SECOND FROM src_timestamp) * 1000 + EXTRACT(MILLISECOND FROM src_timestamp) AS source_timestamp,
  CAST(record_key AS STRING) AS `key`,
  CASE WHEN record_value IS NULL OR CAST(CAST(record_value AS STRING) AS BYTES) = record_value
       THEN CAST(record_value AS STRING) ELSE TO_BASE64(record_value) END AS `value`,
  CASE WHEN record_value IS NULL OR CAST(CAST(record_value AS STRING) AS BYTES) = record_value
       THEN CAST(NULL AS STRING) ELSE 'base64' END AS value_encoding,
  error_code,
  error_detail,
  CURRENT_TIMESTAMP AS detected_at
FROM checked
WHERE NOT accepted
"""

# Accepted records, first occurrence of each event_id per topic (SPEC §3 duplicates).
_ACCEPTED = """
SELECT logical_topic, entity_key, payload FROM (
  SELECT logical_topic, entity_key, payload,
         ROW_NUMBER() OVER (PARTITION BY logical_topic, event_id ORDER BY proc_time ASC) AS occurrence
  FROM checked
  WHERE accepted
) WHERE occurrence = 1
"""



def _counter_name(*parts: str) -> str:
    return "_".join(["edge", *parts]).replace("scm.", "").replace("-", "_").replace(".", "_").lower()


# The edge's counters (SPEC §3: duplicates and rejections are counted), each a counting
# sink (line_events.add_counter) whose Flink `numRecordsIn` is the count: sink name ->
# (counter, topic, error code or None) for the records accepted (before dedup), the
# accepted ones that are late (udfs/lateness.py) and the rejected ones by error code.
COUNTERS: dict[str, tuple[str, str, str | None]] = {
    **{_counter_name(c, t): (c, t, None) for t in contracts.INPUT_SCHEMAS for c in ("accepted", "late")},
    **{_counter_name("rejected", t, code): ("rejected", t, code)
       for t in contracts.INPUT_SCHEMAS for code in contracts.ERROR_CODES},
}
_COUNTED = {"accepted": "accepted", "late": "accepted AND late", "rejected": "NOT accepted"}


def _add_counters(t_env, statements) -> None:
    for sink, (counter, topic, code) in COUNTERS.items():
        where = f"logical_topic = '{topic}' AND {_COUNTED[counter]}" + (f" AND error_code = '{code}'" if code else "")
        add_counter(t_env, statements, sink, "checked", where)


# namespace -> (consumer group, end offsets) of the bounded run under way, committed by on_finished()
_BOUNDED_ENDS: dict[str, tuple[str, dict[tuple[str, int], int]]] = {}


def group_id(settings: config.Settings, name: str = NAME) -> str:
    """The edge's consumer group (one per namespace); `name`: of a variant of the job."""
    return settings.transactional_id_prefix(name, "source")


def on_finished(settings: config.Settings) -> None:
    """After a bounded run finished with all output committed: commit its end offsets."""
    group, ends = _BOUNDED_ENDS.pop(settings.namespace, (None, None))
    if ends:
        kafka_io.commit_group_offsets(settings, group, ends)


def build(t_env, settings: config.Settings, bounded: bool, check: str = _CHECK, name: str = NAME):
    """Declare the edge's sources, rules and sinks on t_env; returns its StatementSet.

    `check` and `name` are for benchmarks/edge_floor.py, the same job with a constant
    verdict in SQL instead of the validation function (`check`: the query of the view
    `checked`, whose columns _CHECK's are) under a job name of its own (`name`: its
    consumer group and transactional ids)."""
    if check is _CHECK:
        _register_udf(t_env)
    ends = kafka_io.end_offsets(settings, [settings.topic(t) for t in contracts.INPUT_SCHEMAS]) if bounded else {}
    if bounded:
        _BOUNDED_ENDS[settings.namespace] = (group_id(settings, name), ends)

    # define the sources: every input topic, raw bytes, with a processing-time attribute
    checks = []
    for topic in contracts.INPUT_SCHEMAS:
        source = _source_name(topic)
        t_env.execute_sql(ddl.raw_kafka_source(
            source, settings.topic(topic), settings, group_id=group_id(settings, name),
            bounded=bounded, proc_time=True, from_group_offsets=True,
            end_offsets={p: o for (t, p), o in ends.items() if t == settings.topic(topic)} if bounded else None,
        ))
        checks.append(_RAW.format(logical=topic, source=source))
    t_env.create_temporary_view("raw_inputs", t_env.sql_query(" UNION ALL ".join(checks)))
    t_env.create_temporary_view("checked", t_env.sql_query(check))
    t_env.create_temporary_view("dlq_rows", t_env.sql_query(_DLQ_ROWS))
    t_env.create_temporary_view("accepted", t_env.sql_query(_ACCEPTED))

    # define the sinks
    statements = t_env.create_statement_set()
    t_env.execute_sql(ddl.kafka_json_sink(
        "dlq_topic", settings.topic(config.DLQ_TOPIC), DLQ_COLUMNS, "source_topic", settings,
        transactional_id_prefix=settings.transactional_id_prefix(name, "dlq"),
    ))
    t_env.execute_sql(ddl.jdbc_upsert_sink("dlq_table", "dlq_events", DLQ_COLUMNS, ["dlq_id"], settings))
    statements.add_insert_sql(ddl.insert_select("dlq_topic", DLQ_COLUMNS, "dlq_rows"))
    statements.add_insert_sql(ddl.insert_select("dlq_table", DLQ_COLUMNS, "dlq_rows", jdbc=True))
    for topic, valid_topic in config.VALID_TOPICS.items():
        sink = "valid_" + _source_name(topic)[4:]
        t_env.execute_sql(ddl.kafka_raw_sink(
            sink, settings.topic(valid_topic), settings,
            transactional_id_prefix=settings.transactional_id_prefix(name, sink),
        ))
        statements.add_insert_sql(
            f"INSERT INTO {sink} SELECT CAST(entity_key AS BYTES), CAST(payload AS BYTES) "
            f"FROM accepted WHERE logical_topic = '{topic}'"
        )
    _add_counters(t_env, statements)
    return statements
