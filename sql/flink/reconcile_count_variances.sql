-- Cycle counts that disagreed with the booked on-hand quantity beyond the 0.2 % tolerance
-- (the COUNT_VARIANCE alerts), largest disagreement first. Run by `supplyflow reconcile`;
-- runs as is in `supplyflow sql`.
SELECT sku, warehouse_id, event_time, severity,
       CAST(JSON_VALUE(details, '$.counted_qty') AS BIGINT) AS counted_qty,
       CAST(JSON_VALUE(details, '$.booked_qty') AS BIGINT) AS booked_qty,
       CAST(JSON_VALUE(details, '$.variance_qty') AS BIGINT) AS variance_qty,
       trigger_event_id
FROM alerts
WHERE alert_type = 'COUNT_VARIANCE'
ORDER BY ABS(CAST(JSON_VALUE(details, '$.variance_qty') AS BIGINT)) DESC, sku, warehouse_id, event_time;
