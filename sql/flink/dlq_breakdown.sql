-- Dead-letter queue breakdown by source topic and error code.
--
-- Question: which producer sends what kind of bad data, and how much of it?
-- Reads the `dlq_events` table (one row per rejected record, SPEC §3); `share_pct` is the
-- code's share of that topic's rejected records.
SELECT source_topic, error_code, COUNT(*) AS records,
       CAST(ROUND(100.0 * COUNT(*) / SUM(COUNT(*)) OVER (PARTITION BY source_topic), 1) AS DECIMAL(5, 1))
         AS share_pct
FROM dlq_events
GROUP BY source_topic, error_code
ORDER BY source_topic, records DESC, error_code;
