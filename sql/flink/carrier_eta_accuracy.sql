-- Carrier ETA accuracy.
--
-- Question: how far can we trust each carrier's ETA?
-- For every delivered shipment, the error is the delivered time minus the last ETA the
-- carrier sent before it (`current_eta` in `shipment_status`), in minutes: positive means
-- later than announced. Reports the mean absolute error in hours and the share of
-- deliveries within 2 h of their last ETA.
SELECT carrier_id,
       COUNT(*)                                                                         AS deliveries,
       CAST(ROUND(AVG(ABS(CAST(TIMESTAMPDIFF(MINUTE, current_eta, delivered_time) AS DOUBLE))) / 60, 2)
            AS DECIMAL(10, 2))                                                          AS mean_abs_error_h,
       CAST(ROUND(100.0 * SUM(CASE WHEN ABS(TIMESTAMPDIFF(MINUTE, current_eta, delivered_time)) <= 120
                                   THEN 1 ELSE 0 END) / COUNT(*), 1) AS DECIMAL(5, 1))  AS within_2h_pct
FROM shipment_status
WHERE status = 'DELIVERED' AND current_eta IS NOT NULL AND delivered_time IS NOT NULL
GROUP BY carrier_id
ORDER BY carrier_id;
