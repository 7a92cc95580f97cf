-- What GET /metrics reads at scrape time that the tables may not hold yet.
-- Webhook deliveries by state: the webhooks' tables come from their own
-- migration, which may be applied after this one or not at all, so the
-- query is planned only when the table exists (PL/pgSQL plans lazily).
CREATE FUNCTION mediagate_metrics_webhooks() RETURNS TABLE (state text, n bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass('webhook_deliveries') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE 'SELECT state::text, count(*) FROM webhook_deliveries GROUP BY 1 ORDER BY 1';
END
$$;

-- The request that queued a task: the request path names its id in the
-- session setting mediagate.request_id before a write, and every task
-- queued then carries it in its payload, so the worker's log lines for the
-- task name the request too. Other sessions (the worker, the CLI) set none.
CREATE FUNCTION mediagate_outbox_request_id() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    rid text := current_setting('mediagate.request_id', true);
BEGIN
    IF rid IS NOT NULL AND rid <> '' AND NOT NEW.payload ? 'request_id' THEN
        NEW.payload := NEW.payload || jsonb_build_object('request_id', rid);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER outbox_request_id BEFORE INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION mediagate_outbox_request_id();
