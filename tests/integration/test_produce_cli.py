"""`supplyflow produce`: scenarios and JSONL files into the input topics, errors for people."""

from __future__ import annotations

import json

import pytest

from supplyflow import config, kafka_io
from testdata import generator
from testdata.files import write_jsonl
from tests.helpers import assert_one_line_error, cli, ns_env

pytestmark = pytest.mark.integration


def test_scenario_lands_in_the_input_topics_in_order(ns_settings):
    out = cli("produce", "--scenario", "smoke", "--seed", "3", env=ns_env(ns_settings))
    assert out.returncode == 0, out.stderr
    scenario = generator.generate("smoke", seed=3)
    assert f"produced {len(scenario.records)} records" in out.stdout
    assert "rec/s" in out.stderr or "producing" in out.stderr  # the progress bar
    for topic in config.INPUT_TOPICS:
        got = [(r.key, r.value) for r in kafka_io.read_all(ns_settings, ns_settings.topic(topic))]
        want = [(r.key, r.value) for r in scenario.records if r.topic == topic]
        assert sorted(got, key=repr) == sorted(want, key=repr)  # every byte, nothing else


def test_jsonl_file_roundtrips_bytes(namespaces, tmp_path):
    settings = namespaces()
    records = [r for r in generator.generate("faults", seed=5).records if r.topic == config.PURCHASE_ORDERS][:50]
    path = tmp_path / "po.jsonl"
    write_jsonl(records, path)
    out = cli("produce", "--file", str(path), "--rate", "500", "--quiet", env=ns_env(settings))
    assert out.returncode == 0, out.stderr
    got = [r.value for r in kafka_io.read_all(settings, settings.topic(config.PURCHASE_ORDERS))]
    assert sorted(got, key=repr) == sorted((r.value for r in records), key=repr)


@pytest.mark.parametrize("args, needle", [
    (["--scenario", "nope"], "unknown scenario 'nope'"),
    (["--file", "/nonexistent.jsonl"], "no such file"),
])
def test_bad_arguments_give_one_line_errors(args, needle, stack):
    assert_one_line_error(cli("produce", *args), needle)


def test_unreachable_kafka_is_explained(stack):
    out = cli("produce", "--scenario", "smoke", "--quiet", env={"SUPPLYFLOW_KAFKA_BOOTSTRAP": "localhost:1"})
    assert_one_line_error(out, "cannot reach Kafka at localhost:1", "supplyflow stack up")


def test_bad_jsonl_line_is_explained(tmp_path, stack):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"topic": "scm.nowhere", "value": "{}"}) + "\n")
    assert_one_line_error(cli("produce", "--file", str(path), "--quiet"), "bad.jsonl:1", "is not an input topic")
