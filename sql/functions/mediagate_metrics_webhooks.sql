-- What GET /metrics reads at scrape time that the tables may not hold yet.
-- Webhook deliveries by state: the webhooks' tables come from their own
-- migration, which may be applied after this one or not at all, so the
-- query is planned only when the table exists (PL/pgSQL plans lazily).
CREATE OR REPLACE FUNCTION mediagate_metrics_webhooks() RETURNS TABLE (state text, n bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass('webhook_deliveries') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE 'SELECT state::text, count(*) FROM webhook_deliveries GROUP BY 1 ORDER BY 1';
END
$$;
