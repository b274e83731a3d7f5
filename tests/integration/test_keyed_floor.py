"""The `keyed-floor` and `timer-floor` benchmark systems (benchmarks/keyed_floor.py): the
pass-through through one keyed Python stage, without and with a wait for the watermark.
Their figures stand for "every record crosses into Python once, its key's state is read
and written, and it comes out exactly once"; this checks the last."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks import keyed_floor, timer_floor
from supplyflow import kafka_io, stack
from testdata import generator
from tests.helpers import produce_and_run

pytestmark = pytest.mark.integration


def _utf8(value: bytes | None) -> bool:
    if value is None:  # the mix has records without a value, which stay without one
        return True
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize("floor", [keyed_floor, timer_floor], ids=lambda m: m.NAME)
def test_floor_passes_every_record_through_its_python_stage_once(namespaces, floor):
    records = generator.generate("demo", seed=3).records
    ns = namespaces()
    stack.ensure_topics(ns, extra={ns.topic(floor.OUTPUT_TOPIC): {}})
    produce_and_run(ns, records, [floor.NAME])

    copied = Counter(r.value for r in kafka_io.read_all(ns, ns.topic(floor.OUTPUT_TOPIC)))
    assert copied.total() == len(records) > 4_000  # each once: none lost, none twice
    # the record itself, unchanged (it crosses as text: a value that is not UTF-8 comes
    # out with replacement characters, as SQL's CAST decodes it)
    readable = Counter(r.value for r in records if _utf8(r.value))
    assert readable.total() > 4_000 and copied & readable == readable
