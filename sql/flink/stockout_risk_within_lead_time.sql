-- SKU locations at risk of a stockout within their replenishment lead time.
--
-- Question: where will we run out before a new order could arrive?
-- Demand is the average daily quantity issued (ISSUE + TRANSFER_OUT) over the days with
-- movements in `inventory_flow_hourly`; the expected demand over the lead time of the
-- latest reorder policy (from the normalized policy topic) is compared with the current
-- position (on hand + on order). At risk: the position does not cover that demand plus
-- the safety stock. `days_of_cover` = position / daily demand.
WITH latest_policy AS (
  SELECT sku, warehouse_id, lead_time_days, safety_stock FROM (
    SELECT sku, warehouse_id, lead_time_days, safety_stock,
           ROW_NUMBER() OVER (PARTITION BY sku, warehouse_id ORDER BY event_time DESC, event_id DESC) AS rn
    FROM valid_reorder_policies)
  WHERE rn = 1
), demand AS (
  SELECT sku, warehouse_id,
         CAST(SUM(issues + transfers_out) AS DOUBLE) / COUNT(DISTINCT CAST(hour_start AS DATE)) AS daily_demand
  FROM inventory_flow_hourly
  GROUP BY sku, warehouse_id
)
SELECT p.sku, p.warehouse_id, p.on_hand, p.on_order, p.`position`, pol.lead_time_days,
       CAST(ROUND(d.daily_demand, 1) AS DECIMAL(12, 1))                                 AS daily_demand,
       CAST(ROUND(d.daily_demand * pol.lead_time_days + pol.safety_stock, 0) AS BIGINT) AS needed_over_lead_time,
       CAST(ROUND(p.`position` / d.daily_demand, 1) AS DECIMAL(12, 1))                  AS days_of_cover
FROM inventory_positions AS p
JOIN latest_policy AS pol ON pol.sku = p.sku AND pol.warehouse_id = p.warehouse_id
JOIN demand AS d ON d.sku = p.sku AND d.warehouse_id = p.warehouse_id
WHERE d.daily_demand > 0 AND p.`position` < d.daily_demand * pol.lead_time_days + pol.safety_stock
ORDER BY days_of_cover, p.sku, p.warehouse_id;
