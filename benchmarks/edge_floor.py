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

# the columns of jobs/edge.py's `checked` view, from a constant verdict
CHECK = """
SELECT src_topic, src_partition, src_offset, src_timestamp, record_key, record_value, proc_time,
       logical_topic, TRUE AS accepted, FALSE AS late,
       src_topic || ':' || CAST(src_partition AS STRING) || ':' || CAST(src_offset AS STRING) AS event_id,
       CAST(record_key AS STRING) AS entity_key, CAST(record_value AS STRING) AS payload,
       CAST(NULL AS STRING) AS error_code, CAST(NULL AS STRING) AS error_detail
FROM raw_inputs
"""

job_config = edge.job_config
on_finished = edge.on_finished


def build(t_env, settings: config.Settings, bounded: bool):
    """The edge's sources and sinks around the constant verdict; returns its StatementSet."""
    return edge.build(t_env, settings, bounded, check=CHECK, name=NAME)


def group_id(settings: config.Settings) -> str:
    return edge.group_id(settings, NAME)
