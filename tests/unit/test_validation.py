"""The compiled validator: precedence of error codes, normalization, and agreement with
the jsonschema reference validator (so schemas/ stays the one source of truth)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from supplyflow import config, contracts
from udfs.normalize import Rejected
from udfs.strict_json import parse_object
from udfs.validation import Validator

pytestmark = pytest.mark.unit

MOVE = {"event_id": "e1", "event_type": "ISSUE", "event_time": "2026-10-01T08:00:00Z", "source_system": "wms",
        "sku": "ABCD1234", "warehouse_id": "WH1", "quantity": 2, "uom": "EA"}


def verdict(topic, obj):
    return Validator(topic).validate(json.dumps(obj).encode())


@pytest.mark.parametrize("changes, code", [
    ({"event_time": "2026-10-01T08:00:00", "sku": "x", "uom": "BOX", "quantity": -1.5}, "INVALID_TIMESTAMP"),
    ({"sku": "x", "uom": "BOX", "quantity": -1.5}, "INVALID_SKU"),
    ({"uom": "BOX", "quantity": -1.5}, "UNKNOWN_UOM"),
    ({"quantity": -1.5}, "NEGATIVE_QUANTITY"),
    ({"quantity": 1.5}, "FRACTIONAL_QUANTITY"),
    ({"quantity": "1.5", "sku": "x"}, "SCHEMA_VIOLATION"),     # schema before format rules
    ({"event_type": "ADJUSTMENT", "quantity": -2}, None),      # signed only for ADJUSTMENT
    ({"event_type": "CYCLE_COUNT", "quantity": 0}, None),
])
def test_first_code_in_precedence_order(changes, code):
    assert verdict(config.INVENTORY_MOVEMENTS, {**MOVE, **changes}).code == code


def test_policy_rules():
    policy = {"event_id": "p", "event_type": "POLICY_SET", "event_time": 0, "source_system": "s", "sku": "ABCD1234",
              "warehouse_id": "W", "reorder_point": 10, "order_up_to": 10, "min_order_qty": 0, "safety_stock": 0,
              "lead_time_days": 0}
    assert verdict(config.REORDER_POLICIES, policy).accepted                       # equal is fine
    assert verdict(config.REORDER_POLICIES, {**policy, "order_up_to": 9}).code == "INVALID_POLICY"
    assert verdict(config.REORDER_POLICIES, {**policy, "lead_time_days": -1}).code == "NEGATIVE_QUANTITY"
    assert verdict(config.REORDER_POLICIES, {**policy, "safety_stock": 0.5}).code == "FRACTIONAL_QUANTITY"


def test_accepted_event_is_normalized_and_drops_unknown_fields():
    v = verdict(config.INVENTORY_MOVEMENTS, {**MOVE, "sku": "abcd-1234", "uom": "dz", "extra": {"x": 1}})
    assert v.event == {**MOVE, "sku": "ABCD1234", "quantity": 24, "uom": "EA", "event_time": 1790841600000}


def test_never_raises_on_any_bytes():
    validator = Validator(config.SHIPMENT_EVENTS)
    for raw in [None, b"", b"\x00", b"{}", b"[]", b'{"event_id": null}', bytes(range(256)), b'{"eta": {}}']:
        assert validator.validate(raw).code is not None


SAMPLES = [
    {}, {"event_id": 1}, {**MOVE}, {**MOVE, "quantity": True}, {**MOVE, "quantity": None},
    {**MOVE, "event_type": "X"}, {**MOVE, "warehouse_id": ""}, {**MOVE, "correlation_id": None},
    {**MOVE, "schema_version": 0}, {**MOVE, "schema_version": 2.0}, {**MOVE, "event_time": 1.5},
    {**MOVE, "quantity": 1e16}, {**MOVE, "reference_id": 5},
]


@pytest.mark.parametrize("sample", SAMPLES, ids=range(len(SAMPLES)))
def test_schema_stage_agrees_with_jsonschema(sample):
    """Pass/fail of our compiled schema check equals the reference validator's."""
    reference_ok = contracts.topic_validator(config.INVENTORY_MOVEMENTS).is_valid(sample)
    validator = Validator(config.INVENTORY_MOVEMENTS)
    try:
        validator._schema(parse_object(json.dumps(sample).encode()))
        ours_ok = True
    except Rejected as rej:
        assert rej.code == "SCHEMA_VIOLATION"
        ours_ok = False
    assert ours_ok == reference_ok


# JSON values of every type and edge, as strict_json gives them (not its Decimal for an
# integer of 31+ digits, which jsonschema does not count as an integer and we do)
VALUE_ZOO = [None, True, False, 0, 1, -1, 2, 10**15, 10**15 + 1, -(10**15) - 1, 0.0, 1.5, -0.5, 2.0,
             1e16, "", "x", "EA", "BOX", "ISSUE", "DELIVERED", "1", [], [1], {}, {"a": 1}]


@pytest.mark.parametrize("topic", list(contracts.INPUT_SCHEMAS))
def test_each_fields_compiled_check_agrees_with_jsonschema(topic):
    """Every property's compiled check (its fast path for the common types included)
    passes exactly the values the reference validator passes for that property."""
    properties = contracts.load_schema(contracts.INPUT_SCHEMAS[topic])["properties"]
    checked = 0
    for field in Validator(topic).fields:
        reference = jsonschema.Draft202012Validator(properties[field.name])
        for value in VALUE_ZOO + list(properties[field.name].get("enum", ())):
            assert (field.violation(value) is None) == reference.is_valid(value), (field.name, value)
            checked += 1
    assert checked > 100


def test_payloads_are_the_standard_librarys_compact_json():
    # to_json encodes with orjson; the payloads on the valid topics stay byte for byte what
    # json.dumps wrote, for every event the generator's mixes accept (and for what orjson
    # refuses: beyond 64 bits, lone surrogates)
    from testdata import generator
    from udfs.validation import to_json

    events = [{"q": 2**70, "s": "\ud800"}]
    for scenario in ("demo", "faults"):
        for record in generator.generate(scenario, seed=3, size=3000).records:
            event = Validator(record.topic).validate(record.value).event
            if event is not None:
                events.append(event)
    assert len(events) > 2000
    for event in events:
        assert to_json(event) == json.dumps(event, separators=(",", ":"), ensure_ascii=False)
