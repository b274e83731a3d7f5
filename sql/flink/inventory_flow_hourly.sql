-- Inventory flow per SKU, warehouse and UTC hour (SPEC §6 "Inventory").
--
-- The `inventory` job writes this query's result to scm.inventory_flow_hourly (an upsert
-- on sku, warehouse_id, hour_start). It reads the normalized movements
-- (`valid_inventory_movements`: quantities in whole EA, event_time in UTC epoch ms), so it
-- runs unchanged in `supplyflow sql`, where that table is declared too.
--
-- * Each movement lands in the UTC hour of its event time. It is a non-windowed GROUP BY:
--   a late movement updates its (earlier) bucket; nothing is dropped for lateness.
-- * ISSUE and TRANSFER_OUT quantities are positive here and subtracted in net_change;
--   ADJUSTMENT keeps its sign.
-- * CYCLE_COUNT does not change on-hand: it is in no column, and movement_count counts
--   only the movements that change on-hand.
SELECT
  sku,
  warehouse_id,
  TO_TIMESTAMP_LTZ(event_time - MOD(event_time, 3600000), 3)              AS hour_start,
  SUM(CASE WHEN event_type = 'RECEIPT' THEN quantity ELSE 0 END)          AS receipts,
  SUM(CASE WHEN event_type = 'ISSUE' THEN quantity ELSE 0 END)            AS issues,
  SUM(CASE WHEN event_type = 'ADJUSTMENT' THEN quantity ELSE 0 END)       AS adjustments,
  SUM(CASE WHEN event_type = 'TRANSFER_IN' THEN quantity ELSE 0 END)      AS transfers_in,
  SUM(CASE WHEN event_type = 'TRANSFER_OUT' THEN quantity ELSE 0 END)     AS transfers_out,
  SUM(CASE WHEN event_type IN ('ISSUE', 'TRANSFER_OUT') THEN -quantity ELSE quantity END) AS net_change,
  COUNT(*)                                                                AS movement_count
FROM valid_inventory_movements
WHERE event_type <> 'CYCLE_COUNT'
GROUP BY sku, warehouse_id, TO_TIMESTAMP_LTZ(event_time - MOD(event_time, 3600000), 3);
