"""The per-key stages' plumbing that needs no cluster (jobs/line_events.py): the state's
JSON codec and the SQL key expression."""

from __future__ import annotations

import json

import pytest

from jobs import line_events

pytestmark = pytest.mark.unit


def test_state_round_trips_and_reads_what_the_standard_library_wrote():
    state = {"book": {"po_id": "PO-1", "lines": [{"qty": 10**15, "eta": None, "ok": True}]}, "expiry_timer": 17}
    assert line_events._loads(line_events._dumps(state)) == state
    assert line_events._loads(json.dumps(state)) == state  # state written before orjson
    assert json.loads(line_events._dumps({1: "a"})) == json.loads(json.dumps({1: "a"})) == {"1": "a"}


def test_what_orjson_refuses_is_written_anyway_rather_than_failing_the_job():
    assert json.loads(line_events._dumps({"qty": 2**70})) == {"qty": 2**70}


def test_the_sql_key_joins_the_columns_and_spells_null_as_python_did():
    assert line_events.key_of("po_id", "po_line", sep="#") == (
        "CONCAT(COALESCE(CAST(`po_id` AS STRING), 'None'), '#', COALESCE(CAST(`po_line` AS STRING), 'None'))")
