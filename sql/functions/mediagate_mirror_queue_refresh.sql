-- A webhook names a resource; its refresh is a worker task, queued in the
-- transaction that stores the notification, and only when a worker serves
-- the kind (then `notifications replay` queues it later). A refresh already
-- waiting for the same resource is enough. Returns what the notification
-- is filed under: 'jwplatform:<key>' (the video's job id) or
-- 'jwplatform-channel:<key>'.
CREATE OR REPLACE FUNCTION mediagate_mirror_queue_refresh(r jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    p jsonb := jsonb_build_object('type', r->>'type', 'key', r->>'key');
BEGIN
    IF EXISTS (SELECT 1 FROM task_kinds WHERE name = 'jwplatform.refresh')
       AND NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'jwplatform.refresh' AND payload @> p
                          AND done_at IS NULL AND failed_at IS NULL AND locked_by IS NULL) THEN
        INSERT INTO outbox (kind, payload) VALUES ('jwplatform.refresh', p || jsonb_build_object('event', r->>'event'));
    END IF;
    RETURN CASE WHEN r->>'type' = 'video' THEN 'jwplatform:' ELSE 'jwplatform-channel:' END
           || (r->>'key');
END
$$;
