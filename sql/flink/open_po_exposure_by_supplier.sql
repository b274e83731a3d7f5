-- Open purchase-order exposure by supplier.
--
-- Question: how much have we ordered that has not arrived in stock, and from whom?
-- Sums `open_qty` (ordered − received, in EA) over the OPEN PO lines, with the number of
-- lines, how many of them are already past their promised delivery time as of the
-- newest line event, and the earliest promise. Reads the `po_lines` table.
SELECT supplier_id,
       COUNT(*)                                                             AS open_lines,
       SUM(open_qty)                                                        AS open_qty_ea,
       SUM(CASE WHEN promised_delivery_time < (SELECT MAX(last_event_time) FROM po_lines)
                THEN 1 ELSE 0 END)                                          AS past_promise,
       MIN(promised_delivery_time)                                          AS earliest_promise
FROM po_lines
WHERE status = 'OPEN' AND open_qty > 0
GROUP BY supplier_id
ORDER BY open_qty_ea DESC, supplier_id;
