-- The request that queued a task: the request path names its id in the
-- session setting mediagate.request_id before a write, and every task
-- queued then carries it in its payload, so the worker's log lines for the
-- task name the request too. Other sessions (the worker, the CLI) set none.
CREATE OR REPLACE FUNCTION mediagate_outbox_request_id() RETURNS trigger
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
