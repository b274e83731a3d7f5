"""`supplyflow demo` (what `make demo` runs): its closing summary matches the scenario."""

from __future__ import annotations

import re

import pytest

from testdata import generator
from tests.helpers import cli

pytestmark = pytest.mark.integration


def test_demo_summary_matches_the_generators_labels(namespaces):
    settings = namespaces()
    out = cli("demo", "--scenario", "smoke", "--seed", "5",
              env={"SUPPLYFLOW_NAMESPACE": settings.namespace, "SUPPLYFLOW_PG_DB": settings.pg_db})
    assert out.returncode == 0, out.stderr[-2000:]
    labels = generator.generate("smoke", seed=5).counts()
    summary = dict(re.findall(r"^\s+(accepted|duplicates)\s+\(.*?\)\s+(\d+)$", out.stdout, re.M))
    assert int(summary["accepted"]) == labels["valid"]
    assert int(summary["duplicates"]) == labels["duplicate"]
    dlq = {code: int(n) for code, n in re.findall(r"^\s+DLQ\s+(\w+)\s+(\d+)$", out.stdout, re.M)}
    assert dlq == {code: n for code, n in labels.items() if code not in ("valid", "duplicate")}
