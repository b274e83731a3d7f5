"""The `core` job (jobs/core.py) against the four stateful jobs it fuses, run apart: on the
same input every table row and every record of every output topic is the same."""

from __future__ import annotations

import dataclasses

import pytest

from jobs import core
from supplyflow import runner
from testdata import generator
from tests.helpers import output_snapshot, produce_and_run, topic_snapshot

pytestmark = pytest.mark.integration


def test_core_writes_exactly_what_the_four_jobs_write_apart(namespaces):
    # the demo mix (faults, duplicates, late and out-of-order events, orphans, stale
    # carriers), and a state TTL short enough that closed lines expire within it: each
    # job's timeouts and expiries must stay its own inside the shared operators
    records = generator.generate("demo", seed=5).records
    apart, together = (dataclasses.replace(namespaces(), matching_ttl_days=1) for _ in range(2))
    produce_and_run(apart, records, ["edge"] + [job.NAME for job in core.JOBS])
    produce_and_run(together, records, list(runner.ALL))

    want, got = output_snapshot(apart), output_snapshot(together)
    assert all(want[t] for t in ("po_lines", "shipment_status", "inventory_positions", "alerts"))
    alert_types = {alert_id.split(":")[0] for alert_id, *_ in want["alerts"]}
    wanted = {"ORPHAN_SHIPMENT", "ETA_VARIANCE", "STALE_TRACKING", "COUNT_VARIANCE", "REORDER"}
    assert wanted <= alert_types, alert_types
    assert got == want

    want_topics, got_topics = topic_snapshot(apart, status=True), topic_snapshot(together, status=True)
    assert all(want_topics.values())
    assert got_topics == want_topics
