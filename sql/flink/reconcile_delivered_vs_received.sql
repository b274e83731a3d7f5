-- PO lines whose carrier-delivered and warehouse-received quantities disagree by more
-- than 2 % (of the larger of the two), e.g. a short or damaged receipt, or goods received
-- against the wrong shipment. Run by `supplyflow reconcile`; runs as is in `supplyflow sql`.
--
-- delivered_qty: Σ shipped_qty of the line's DELIVERED shipments (the carrier's word);
-- received_qty: Σ RECEIPT movements referencing the line's shipments (the warehouse's).
-- Lines with nothing delivered yet are not a disagreement.
SELECT po_id, po_line, sku, warehouse_id, delivered_qty, received_qty,
       received_qty - delivered_qty AS difference
FROM po_lines
WHERE delivered_qty > 0
  AND ABS(received_qty - delivered_qty) > 0.02 * GREATEST(delivered_qty, received_qty)
ORDER BY po_id, po_line;
