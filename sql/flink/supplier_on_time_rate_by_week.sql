-- Supplier on-time delivery rate by week.
--
-- Question: which suppliers deliver on time, week by week?
-- A delivery is on time when the carrier's DELIVERED time is at most 2 h after the PO
-- line's promised delivery time (the same grace as the LATE_DELIVERY alert, SPEC §6).
-- Counts delivered shipments MATCHED to their PO line; the week (Monday, UTC) is the
-- week of the promised time (FLOOR … TO WEEK starts on Sunday, hence the shift). Reads the `shipment_status` and `po_lines` tables.
SELECT p.supplier_id,
       CAST(TIMESTAMPADD(DAY, 1, FLOOR(TIMESTAMPADD(DAY, -1, s.promised_delivery_time) TO WEEK)) AS DATE)
                                                                                 AS week_start,
       COUNT(*)                                                                  AS deliveries,
       SUM(CASE WHEN s.delivered_time <= s.promised_delivery_time + INTERVAL '2' HOUR
                THEN 1 ELSE 0 END)                                               AS on_time,
       CAST(ROUND(100.0 * SUM(CASE WHEN s.delivered_time <= s.promised_delivery_time + INTERVAL '2' HOUR
                                   THEN 1 ELSE 0 END) / COUNT(*), 1) AS DECIMAL(5, 1)) AS on_time_pct
FROM shipment_status AS s
JOIN po_lines AS p ON p.po_id = s.po_id AND p.po_line = s.po_line
WHERE s.status = 'DELIVERED' AND s.match_status = 'MATCHED'
GROUP BY p.supplier_id,
         CAST(TIMESTAMPADD(DAY, 1, FLOOR(TIMESTAMPADD(DAY, -1, s.promised_delivery_time) TO WEEK)) AS DATE)
ORDER BY p.supplier_id, week_start;
