"""The edge without Python: what validating costs on top of the rest of the edge.

The edge job (jobs/edge.py) with its validation function replaced by a constant verdict
in Flink SQL: every record is accepted as it came (its own bytes as the payload, the
record's key as the entity key, its Kafka coordinates as the event_id, so the dedup keeps
every record, never late). The same sources, dedup state, DLQ branch, counting sinks and
exactly-once sinks to the valid topics remain; only the Python operator is gone. Not a
validator — it lets invalid records through — but the floor under the edge's cost:
`supplyflow bench suite --systems edge,edge-floor` and `supplyflow bench validation`
compare the two. Submitted like a job: `supplyflow submit edge-floor`.
"""

from __future__ import annotations

from jobs import edge
from supplyflow import config

NAME = "edge-floor"

# The columns of jobs/edge.py's `checked` view, from a constant verdict. The verdict
# comes out of a Java table function (UNNEST) above the union of the topics, where the
# edge's Python table function is: one operator with the edge's sinks chained behind it.
# A verdict computed in a plain projection would be planned as 42 tasks of their own
# behind the union (the DLQ, the dedup and each counter), each sent every record over
# Flink's network stack: a floor that costs more than what it stands for.
CHECK = """
SELECT src_topic, src_partition, src_offset, src_timestamp, record_key, record_value, proc_time,
       v.topic AS logical_topic, v.topic IS NOT NULL AS accepted, v.topic IS NULL AS late,
       src_topic || ':' || CAST(src_partition AS STRING) || ':' || CAST(src_offset AS STRING) AS event_id,
       CAST(record_key AS STRING) AS entity_key, CAST(record_value AS STRING) AS payload,
       CAST(NULL AS STRING) AS error_code, CAST(NULL AS STRING) AS error_detail
FROM raw_inputs CROSS JOIN UNNEST(ARRAY[logical_topic]) AS v(topic)
"""

job_config = edge.job_config
on_finished = edge.on_finished


def build(t_env, settings: config.Settings, bounded: bool):
    """The edge's sources and sinks around the constant verdict; returns its StatementSet."""
    return edge.build(t_env, settings, bounded, check=CHECK, name=NAME)


def group_id(settings: config.Settings) -> str:
    return edge.group_id(settings, NAME)
