CREATE OR REPLACE FUNCTION mediagate_webhook_stream() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s streams%ROWTYPE;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) THEN
        RETURN NULL;
    END IF;
    SELECT * INTO s FROM streams WHERE id = NEW.id;
    IF NOT FOUND OR s.status <> NEW.status OR s.status NOT IN ('LIVE', 'IDLE', 'STOPPED') THEN
        RETURN NULL;
    END IF;
    PERFORM mediagate_webhook_queue('stream.' || lower(s.status), 'stream:' || s.id,
                                    mediagate_stream_status_json(s));
    RETURN NULL;
END
$$;
