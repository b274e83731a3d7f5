-- Inventory turns per SKU location.
--
-- Question: how fast does stock move?
-- turns = quantity issued (ISSUE + TRANSFER_OUT) over the period / average on-hand,
-- where on-hand after each hour with movements is the running sum of `net_change` in
-- `inventory_flow_hourly`, and the average is taken over those hours. Locations whose
-- average on-hand is not positive are left out (turns are undefined there).
WITH levels AS (
  SELECT sku, warehouse_id, issues + transfers_out AS outflow,
         SUM(net_change) OVER (PARTITION BY sku, warehouse_id ORDER BY hour_start
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS on_hand_after
  FROM inventory_flow_hourly
)
SELECT sku, warehouse_id, SUM(outflow) AS issued,
       CAST(ROUND(AVG(CAST(on_hand_after AS DOUBLE)), 1) AS DECIMAL(14, 1))           AS avg_on_hand,
       CAST(ROUND(SUM(outflow) / AVG(CAST(on_hand_after AS DOUBLE)), 2) AS DECIMAL(10, 2)) AS turns
FROM levels
GROUP BY sku, warehouse_id
HAVING AVG(CAST(on_hand_after AS DOUBLE)) > 0
ORDER BY turns DESC, sku, warehouse_id;
