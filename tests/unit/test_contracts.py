"""The schemas in schemas/ against SPEC §2, §3 and §5, and the loader in supplyflow.contracts."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from supplyflow import config, contracts

pytestmark = pytest.mark.unit

INPUTS = {config.PURCHASE_ORDERS: "purchase-order", config.SHIPMENT_EVENTS: "shipment-event",
          config.INVENTORY_MOVEMENTS: "inventory-movement", config.REORDER_POLICIES: "reorder-policy"}
ALL = [*INPUTS.values(), "alert", "dlq-record"]
ENVELOPE = {"event_id": "e-1", "event_time": "2026-10-01T08:00:00Z", "source_system": "test"}


def test_schemas_are_valid_draft_2020_12_with_ids_titles_and_described_properties():
    assert set(contracts.schema_names()) == set(ALL)
    for name in ALL:
        schema = contracts.load_schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"https://supplyflow.dev/schemas/{name}.schema.json"
        assert schema["title"] and schema["description"]
        undescribed = [p for p, spec in schema["properties"].items() if not spec.get("description")]
        assert not undescribed, f"{name}: {undescribed}"
        assert contracts.validator(name) is contracts.validator(name)  # cached


def test_input_schemas_come_from_x_topic_and_cover_every_input_topic():
    assert contracts.INPUT_SCHEMAS == INPUTS
    assert contracts.load_schema("dlq-record")["x-topic"] == config.DLQ_TOPIC
    assert contracts.load_schema("alert")["x-topics"] == [
        config.ALERTS_ETA, config.ALERTS_MATCHING, config.ALERTS_INVENTORY, config.ALERTS_REORDER]


@pytest.mark.parametrize("topic, types", [
    (config.PURCHASE_ORDERS, ("PO_CREATED", "PO_UPDATED", "PO_CANCELLED")),
    (config.SHIPMENT_EVENTS, ("DISPATCHED", "ETA_UPDATED", "DELIVERED", "CANCELLED")),
    (config.INVENTORY_MOVEMENTS, ("RECEIPT", "ISSUE", "ADJUSTMENT", "TRANSFER_IN", "TRANSFER_OUT", "CYCLE_COUNT")),
    (config.REORDER_POLICIES, ("POLICY_SET",)),
])
def test_event_types_per_spec_2(topic, types):
    assert contracts.event_types(topic) == types


def test_rule_annotations_match_spec_3():
    kinds = {name: {k: contracts.fields_of_kind(name, k) for k in ("timestamp", "sku", "uom", "quantity", "days")}
             for name in INPUTS.values()}
    assert kinds["purchase-order"] == {"timestamp": ("event_time", "promised_delivery_time"), "sku": ("sku",),
                                       "uom": ("uom",), "quantity": ("ordered_qty",), "days": ()}
    assert kinds["shipment-event"]["timestamp"] == ("event_time", "eta")
    assert kinds["shipment-event"]["quantity"] == ("shipped_qty",)
    assert kinds["inventory-movement"]["quantity"] == ("quantity",)
    assert kinds["reorder-policy"]["quantity"] == ("reorder_point", "order_up_to", "min_order_qty", "safety_stock")
    assert kinds["reorder-policy"]["days"] == ("lead_time_days",)
    assert contracts.load_schema("inventory-movement")["properties"]["quantity"]["x-signed-for-event-types"] == [
        "ADJUSTMENT"]


def test_error_codes_and_uom_factors():
    assert contracts.ERROR_CODES == ("INVALID_JSON", "SCHEMA_VIOLATION", "INVALID_TIMESTAMP", "INVALID_SKU",
                                     "UNKNOWN_UOM", "NEGATIVE_QUANTITY", "FRACTIONAL_QUANTITY", "INVALID_POLICY")
    assert contracts.UOM_FACTORS == {"EA": 1, "DZ": 12, "CS": 24, "PL": 480}


def test_kafka_key_uses_raw_key_fields():
    assert contracts.kafka_key(config.PURCHASE_ORDERS, {"po_id": "PO-1"}) == "PO-1"
    assert contracts.kafka_key(config.INVENTORY_MOVEMENTS, {"sku": "abc-123_45", "warehouse_id": "W"}) == "abc-123_45|W"
    assert contracts.kafka_key(config.SHIPMENT_EVENTS, {"po_id": "PO-1"}) is None


SHIP = dict(ENVELOPE, event_type="DISPATCHED", shipment_id="S1", po_id="P1", po_line=1, sku="ABC12345",
            shipped_qty=10, uom="CS", carrier_id="DHL", warehouse_id="W1", eta=1790812800000)
PO = dict(ENVELOPE, event_type="PO_CREATED", po_id="P1", po_line=1, version=1, supplier_id="S", warehouse_id="W",
          sku="abc-123_45", ordered_qty=2.5, uom="cs", promised_delivery_time="2026-10-04T10:00:00+02:00")
MOVE = dict(ENVELOPE, event_type="ADJUSTMENT", sku="ABC12345", warehouse_id="W1", quantity=-3, uom="EA",
            reference_id=None, future_field={"x": 1})
POLICY = dict(ENVELOPE, event_type="POLICY_SET", sku="ABC12345", warehouse_id="W1", reorder_point=10,
              order_up_to=50, min_order_qty=24, safety_stock=5, lead_time_days=2.5)
CANCEL = dict(ENVELOPE, event_type="PO_CANCELLED", po_id="P1", po_line=1, version=2)


def _with(event: dict, **changes) -> dict:
    out = copy.deepcopy(event)
    for k, v in changes.items():
        if v is ...:
            del out[k]
        else:
            out[k] = v
    return out


# (schema, event, valid?) — rule-level problems (naive times, bad skus) are NOT schema errors
INPUT_CASES = [
    ("shipment-event", SHIP, True),
    ("shipment-event", _with(SHIP, eta=...), False),                         # DISPATCHED needs eta
    ("shipment-event", _with(SHIP, event_type="DELIVERED", eta=...), True),
    ("shipment-event", _with(SHIP, shipped_qty=True), False),                # boolean is not a number
    ("shipment-event", _with(SHIP, eta="2026-10-04T10:00:00"), True),        # naive: INVALID_TIMESTAMP, later
    ("shipment-event", _with(SHIP, event_type="SHIPPED"), False),
    ("purchase-order", PO, True),
    ("purchase-order", CANCEL, True),                                        # a cancel needs only the ids
    ("purchase-order", _with(CANCEL, version=...), False),
    ("purchase-order", _with(PO, sku=...), False),                           # PO_CREATED needs every field
    ("purchase-order", _with(PO, po_line=0), False),
    ("purchase-order", _with(PO, ordered_qty="12"), False),
    ("purchase-order", _with(PO, event_time=True), False),
    ("purchase-order", _with(PO, sku="???"), True),                          # INVALID_SKU, later
    ("inventory-movement", MOVE, True),                                      # extra fields allowed
    ("inventory-movement", _with(MOVE, quantity=10**16), False),             # beyond ±10^15
    ("inventory-movement", _with(MOVE, uom="KG"), True),                     # UNKNOWN_UOM, later
    ("reorder-policy", POLICY, True),
    ("reorder-policy", _with(POLICY, order_up_to=1), True),                  # INVALID_POLICY, later
    ("reorder-policy", _with(POLICY, lead_time_days=...), False),
    ("reorder-policy", _with(POLICY, event_id=...), False),
]


@pytest.mark.parametrize("name, event, ok", INPUT_CASES)
def test_input_schema_cases(name, event, ok):
    assert contracts.validator(name).is_valid(event) is ok


ALERT = {
    "alert_id": "ETA_VARIANCE:SHP-1:ev-9", "alert_type": "ETA_VARIANCE", "severity": "HIGH",
    "entity_type": "SHIPMENT", "entity_id": "SHP-1", "event_time": "2026-10-03T10:00:00Z",
    "detected_at": "2026-10-03T10:00:01.123Z", "sku": "ABC12345", "warehouse_id": "WH-AMS", "po_id": "PO-1",
    "po_line": 1, "shipment_id": "SHP-1", "supplier_id": "SUP-001", "carrier_id": "DHL", "trigger_event_id": "ev-9",
    "message": "SHP-1 is 30 h behind the promised delivery", "details": {"variance_minutes": 1800},
}
REORDER = dict(ALERT, alert_id="REORDER:ABC12345|WH-AMS:ev-3", alert_type="REORDER", severity="CRITICAL",
               entity_type="SKU_LOCATION", entity_id="ABC12345|WH-AMS", po_id=None, po_line=None, shipment_id=None,
               supplier_id=None, carrier_id=None, trigger_event_id="ev-3")
ORPHAN = dict(ALERT, alert_id="ORPHAN_SHIPMENT:SHP-1", alert_type="ORPHAN_SHIPMENT", trigger_event_id=None)

ALERT_CASES = [
    (ALERT, True), (REORDER, True), (ORPHAN, True),
    (_with(ALERT, severity="URGENT"), False),
    (_with(ALERT, severity="LOW"), False),                                   # ETA_VARIANCE is never LOW
    (_with(ALERT, entity_type="PO_LINE"), False),                            # ETA_VARIANCE is about a SHIPMENT
    (_with(ALERT, event_time="2026-10-03T10:00:00"), False),                 # UTC with Z only
    (_with(ALERT, event_time="2026-10-03T12:00:00+02:00"), False),
    (_with(ALERT, po_line="1"), False),
    (_with(ALERT, message=...), False),
    (_with(ALERT, extra=1), False),
    (_with(ALERT, trigger_event_id=None), False),                            # repeating alerts name a trigger
    (_with(REORDER, entity_id="ABC12345#WH-AMS"), False),
]
DLQ = {
    "dlq_id": "scm.purchase-orders:2:41", "source_topic": "scm.purchase-orders", "source_partition": 2,
    "source_offset": 41, "source_timestamp": 1790812800000, "key": "PO-1", "value": "{\"event_id\": 1}",
    "value_encoding": None, "error_code": "SCHEMA_VIOLATION", "error_detail": "$.event_id: 1 is not a string",
    "detected_at": "2026-10-01T00:00:05Z",
}
DLQ_CASES = [
    (DLQ, True),
    (_with(DLQ, key=None, value=None, error_code="INVALID_JSON"), True),     # a tombstone
    (_with(DLQ, value="//79", value_encoding="base64"), True),
    (_with(DLQ, value_encoding="hex"), False),
    (_with(DLQ, error_code="BAD_THING"), False),
    (_with(DLQ, source_offset="41"), False),
    (_with(DLQ, detected_at=...), False),
    (_with(DLQ, dlq_id="no-coordinates"), False),
    (_with(DLQ, value="not base64!", value_encoding="base64"), False),
]


@pytest.mark.parametrize("name, doc, ok", [("alert", d, ok) for d, ok in ALERT_CASES]
                         + [("dlq-record", d, ok) for d, ok in DLQ_CASES])
def test_output_schema_cases(name, doc, ok):
    assert contracts.validator(name).is_valid(doc) is ok
