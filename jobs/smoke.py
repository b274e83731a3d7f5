"""The foundation's smoke path: raw input records → the dead-letter queue, exactly once.

Reads every input topic as raw bytes with its Kafka coordinates, rejects what is not a
JSON object (SPEC §3 INVALID_JSON: unparseable, not UTF-8, empty, tombstone, array or
scalar) and writes each reject to the `scm.dlq` topic (EXACTLY_ONCE) and the
`scm.dlq_events` table (upsert on dlq_id). It proves the whole stack — Kafka source,
Flink SQL, transactional Kafka sink, JDBC upsert sink — end to end; the full validation
of SPEC §3 grows from here.

    supplyflow run smoke --bounded
"""

from __future__ import annotations

from connectors import ddl
from supplyflow import config

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

# One row per input record with the verdict of the INVALID_JSON rule (NULL = accepted).
# A value is UTF-8 exactly when decoding and re-encoding gives back the same bytes.
CLASSIFY = """
SELECT
  src_topic, src_partition, src_offset, src_timestamp, record_key, record_value,
  CAST(record_value AS STRING) AS text_value,
  CAST(CAST(record_value AS STRING) AS BYTES) = record_value AS is_utf8,
  CASE
    WHEN record_value IS NULL THEN 'record has no value (tombstone)'
    WHEN CHAR_LENGTH(CAST(record_value AS STRING)) = 0 THEN 'record value is empty'
    WHEN CAST(CAST(record_value AS STRING) AS BYTES) <> record_value THEN 'record value is not UTF-8'
    WHEN CAST(record_value AS STRING) IS JSON OBJECT THEN NULL
    WHEN CAST(record_value AS STRING) IS JSON THEN 'record value is JSON but not an object'
    ELSE 'record value is not parseable JSON'
  END AS invalid_json_reason
FROM raw_inputs
"""

DLQ_ROWS = """
SELECT
  src_topic || ':' || CAST(src_partition AS STRING) || ':' || CAST(src_offset AS STRING) AS dlq_id,
  src_topic AS source_topic,
  src_partition AS source_partition,
  src_offset AS source_offset,
  -- epoch milliseconds, without the INT overflow of TIMESTAMPDIFF in seconds
  CAST(TIMESTAMPDIFF(MINUTE, TO_TIMESTAMP_LTZ(0, 3), src_timestamp) AS BIGINT) * 60000
    + EXTRACT(SECOND FROM src_timestamp) * 1000 + EXTRACT(MILLISECOND FROM src_timestamp) AS source_timestamp,
  CAST(record_key AS STRING) AS `key`,
  CASE WHEN is_utf8 OR record_value IS NULL THEN text_value ELSE TO_BASE64(record_value) END AS `value`,
  CASE WHEN is_utf8 OR record_value IS NULL THEN CAST(NULL AS STRING) ELSE 'base64' END AS value_encoding,
  'INVALID_JSON' AS error_code,
  invalid_json_reason AS error_detail,
  CURRENT_TIMESTAMP AS detected_at
FROM classified
WHERE invalid_json_reason IS NOT NULL
"""


def build(t_env, settings: config.Settings, bounded: bool):
    """Declare sources and sinks on t_env and return the job's StatementSet."""
    # define the sources: every input topic, raw
    selects = []
    for topic in config.INPUT_TOPICS:
        name = "raw_" + topic.replace("scm.", "").replace("-", "_")
        t_env.execute_sql(ddl.raw_kafka_source(
            name, settings.topic(topic), settings, group_id=settings.transactional_id_prefix("smoke", "edge"),
            bounded=bounded,
        ))
        selects.append(f"SELECT * FROM {name}")
    t_env.create_temporary_view("raw_inputs", t_env.sql_query(" UNION ALL ".join(selects)))
    t_env.create_temporary_view("classified", t_env.sql_query(CLASSIFY))
    t_env.create_temporary_view("dlq_rows", t_env.sql_query(DLQ_ROWS))

    # define the sinks
    t_env.execute_sql(ddl.kafka_json_sink(
        "dlq_topic", settings.topic(config.DLQ_TOPIC), DLQ_COLUMNS, "source_topic", settings,
        transactional_id_prefix=settings.transactional_id_prefix("smoke", "dlq"),
    ))
    t_env.execute_sql(ddl.jdbc_upsert_sink("dlq_table", "dlq_events", DLQ_COLUMNS, ["dlq_id"], settings))

    # the statements, submitted together as one job
    statements = t_env.create_statement_set()
    statements.add_insert_sql(ddl.insert_select("dlq_topic", DLQ_COLUMNS, "dlq_rows"))
    statements.add_insert_sql(ddl.insert_select("dlq_table", DLQ_COLUMNS, "dlq_rows", jdbc=True))
    return statements
