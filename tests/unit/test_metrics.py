"""The edge's counters as the metrics command reads them: counting sinks' records in."""

import re

from jobs.edge import COUNTERS
from supplyflow import config, contracts, metrics

IN = "flink_taskmanager_job_task_operator_numRecordsIn"


def _sample(operator: str, value: float, job: str = "edge-ns", subtask: str = "0"):
    return IN, {"job_name": job, "operator_name": operator, "subtask_index": subtask}, value


def test_every_counter_is_a_distinct_sql_name_of_a_topic_and_code():
    assert len(COUNTERS) == len(config.INPUT_TOPICS) * (2 + len(contracts.ERROR_CODES))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in COUNTERS)
    assert {(t, code) for c, t, code in COUNTERS.values() if c == "rejected"} == \
        {(t, code) for t in config.INPUT_TOPICS for code in contracts.ERROR_CODES}


def test_counters_sum_subtasks_and_list_only_the_codes_seen():
    by_counter = {v: k for k, v in COUNTERS.items()}
    po, moves = config.PURCHASE_ORDERS, config.INVENTORY_MOVEMENTS
    samples = [
        _sample(f"{by_counter[('rejected', po, 'INVALID_JSON')]}[40]: Writer", 2.0),
        _sample(f"{by_counter[('rejected', po, 'INVALID_JSON')]}[40]: Writer", 1.0, subtask="1"),
        _sample(f"{by_counter[('rejected', po, 'INVALID_SKU')]}[41]: Writer", 0.0),
        _sample(f"{by_counter[('accepted', po, None)]}[42]: Writer", 7.0),
        _sample(f"{by_counter[('late', moves, None)]}[43]: Writer", 0.0),
        _sample(f"{by_counter[('accepted', po, None)]}[42]: Writer", 99.0, job="another-job"),
        _sample("alerts_of_type_eta_variance[44]: Writer", 5.0),
    ]
    assert metrics.supplyflow_counters("edge-ns", samples) == {
        "rejected": {(po, "INVALID_JSON"): 3.0},
        "accepted": {(po,): 7.0},
        "late": {(moves,): 0.0},
    }
    report = metrics.job_report("edge-ns", samples)
    assert report["rejected"] == {f"{po} INVALID_JSON": 3.0}
    assert report["alerts"] == {"ETA_VARIANCE": 5.0}
