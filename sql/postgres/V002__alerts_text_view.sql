-- scm.alerts with `details` as text: what Flink's JDBC connector can read (it cannot turn
-- PostgreSQL's jsonb into a STRING). `supplyflow sql` declares its `alerts` table over
-- this view, so analysts can use JSON_VALUE(details, '$.…') in Flink SQL.
create or replace view scm.alerts_text as
select alert_id, alert_type, severity, entity_type, entity_id, event_time, detected_at, sku, warehouse_id,
       po_id, po_line, shipment_id, supplier_id, carrier_id, trigger_event_id, message, details::text as details
from scm.alerts;
