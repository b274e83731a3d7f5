-- Shipments the carrier reports DELIVERED for which no RECEIPT movement references the
-- shipment: goods that arrived on paper but not in stock (they stay on order). Run by
-- `supplyflow reconcile`; runs as is in `supplyflow sql`.
SELECT s.shipment_id, s.po_id, s.po_line, s.sku, s.warehouse_id, s.carrier_id, s.shipped_qty, s.delivered_time
FROM shipment_status AS s
LEFT JOIN (
  SELECT DISTINCT reference_id FROM valid_inventory_movements WHERE event_type = 'RECEIPT'
) AS r ON r.reference_id = s.shipment_id
WHERE s.status = 'DELIVERED' AND r.reference_id IS NULL
ORDER BY s.delivered_time, s.shipment_id;
