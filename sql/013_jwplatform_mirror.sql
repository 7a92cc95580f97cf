-- The JW Platform mirror: the platform's videos and channels as JSONB
-- cached resources (DESIGN.md, "JSONB cached-resource tables"), kept fresh
-- by `mediagate sync` and by the platform's webhooks (worker task
-- jwplatform.refresh). A resource that disappears from the platform is
-- never deleted here: it gets deleted_at, and comes back if it reappears.
CREATE TABLE cached_resource (
    type        text NOT NULL CHECK (type IN ('video', 'channel')),
    key         text NOT NULL CHECK (key ~ '^[A-Za-z0-9_-]{1,64}$'),
    data        jsonb NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    updated     bigint,          -- a video's integer "updated", exactly as sent (channels: NULL)
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),   -- data, updated or deleted_at last changed
    deleted_at  timestamptz,
    derived_at  timestamptz,     -- when its job row was last derived from it
    PRIMARY KEY (type, key)
);
-- Containment queries on data (data @> '{"custom": {"sms_acl": "acl:WORLD:"}}').
CREATE INDEX cached_resource_data ON cached_resource USING gin (data jsonb_path_ops);
CREATE INDEX cached_resource_underived ON cached_resource (type, key)
    WHERE derived_at IS NULL OR derived_at < updated_at;

-- The usual reads: only what the platform still has.
CREATE VIEW jwplatform_videos AS
SELECT key, data, updated, created_at, updated_at FROM cached_resource
 WHERE type = 'video' AND deleted_at IS NULL;
CREATE VIEW jwplatform_channels AS
SELECT key, data, created_at, updated_at FROM cached_resource
 WHERE type = 'channel' AND deleted_at IS NULL;

-- A platform integer "updated" as a bigint: NULL when absent or not an integer.
CREATE FUNCTION mediagate_mirror_updated(d jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(d->'updated') = 'number' AND (d->>'updated') ~ '^-?[0-9]{1,18}$'
                THEN (d->>'updated')::bigint END
$$;

-- Replaces every resource of p_type with the session's temporary table
-- mirror_incoming (key, data), which `mediagate sync` filled, in the
-- caller's one transaction: readers see the old mirror or the new one,
-- never a mix. A video is rewritten only when its "updated" changed, a
-- channel only when its data changed, unless p_force. Rows written since
-- p_since (a webhook's refresh during the fetch) are fresher than the
-- fetch and are left alone. Returns the counts.
CREATE FUNCTION mediagate_mirror_replace(p_type text, p_force boolean, p_since timestamptz)
RETURNS TABLE (created bigint, updated bigint, deleted bigint, revived bigint, unchanged bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n_in bigint;
BEGIN
    SELECT count(*) INTO n_in FROM mirror_incoming;
    UPDATE cached_resource c
       SET data = i.data, updated = mediagate_mirror_updated(i.data), deleted_at = NULL,
           updated_at = now()
      FROM mirror_incoming i
     WHERE c.type = p_type AND c.key = i.key AND c.deleted_at IS NOT NULL AND c.updated_at < p_since;
    GET DIAGNOSTICS revived = ROW_COUNT;
    UPDATE cached_resource c
       SET data = i.data, updated = mediagate_mirror_updated(i.data), updated_at = now()
      FROM mirror_incoming i
     WHERE c.type = p_type AND c.key = i.key AND c.deleted_at IS NULL AND c.updated_at < p_since
       AND (p_force OR CASE WHEN p_type = 'video'
                            THEN c.updated IS DISTINCT FROM mediagate_mirror_updated(i.data)
                            ELSE c.data IS DISTINCT FROM i.data END);
    GET DIAGNOSTICS updated = ROW_COUNT;
    INSERT INTO cached_resource (type, key, data, updated)
    SELECT p_type, i.key, i.data, mediagate_mirror_updated(i.data) FROM mirror_incoming i
     WHERE NOT EXISTS (SELECT 1 FROM cached_resource c WHERE c.type = p_type AND c.key = i.key)
    ON CONFLICT (type, key) DO NOTHING;
    GET DIAGNOSTICS created = ROW_COUNT;
    UPDATE cached_resource c SET deleted_at = now(), updated_at = now()
     WHERE c.type = p_type AND c.deleted_at IS NULL AND c.updated_at < p_since
       AND NOT EXISTS (SELECT 1 FROM mirror_incoming i WHERE i.key = c.key);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    unchanged := n_in - created - updated - revived;
    RETURN NEXT;
END
$$;

-- One resource as the platform answers it now (a webhook's refresh):
-- written whatever its "updated", revived if it was deleted. p_data NULL:
-- the platform has it no more (404), so it gets deleted_at. Returns
-- 'created', 'updated', 'revived', 'deleted' or 'unchanged'.
CREATE FUNCTION mediagate_mirror_put(p_type text, p_key text, p_data jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c cached_resource%ROWTYPE;
BEGIN
    SELECT * INTO c FROM cached_resource WHERE type = p_type AND key = p_key FOR UPDATE;
    IF p_data IS NULL THEN
        IF NOT FOUND OR c.deleted_at IS NOT NULL THEN
            RETURN 'unchanged';
        END IF;
        UPDATE cached_resource SET deleted_at = now(), updated_at = now()
         WHERE type = p_type AND key = p_key;
        RETURN 'deleted';
    END IF;
    IF NOT FOUND THEN
        INSERT INTO cached_resource (type, key, data, updated)
        VALUES (p_type, p_key, p_data, mediagate_mirror_updated(p_data))
        ON CONFLICT (type, key) DO UPDATE SET data = EXCLUDED.data, updated = EXCLUDED.updated,
                                              deleted_at = NULL, updated_at = now();
        RETURN 'created';
    END IF;
    IF c.deleted_at IS NULL AND c.data = p_data THEN
        RETURN 'unchanged';
    END IF;
    UPDATE cached_resource SET data = p_data, updated = mediagate_mirror_updated(p_data),
                               deleted_at = NULL, updated_at = now()
     WHERE type = p_type AND key = p_key;
    RETURN CASE WHEN c.deleted_at IS NULL THEN 'updated' ELSE 'revived' END;
END
$$;

-- Derives the job rows of videos (backend 'jwplatform', backend_job_id =
-- the video key, id 'jwplatform:<key>') from the mirror: every video when
-- p_all, else those written since their last derivation; only p_key when
-- given. Platform status ready -> COMPLETE, failed -> ERROR 30,
-- processing/updating -> PROGRESSING, else SUBMITTED; a deleted video is
-- ERROR 31. Returns how many jobs were written.
CREATE FUNCTION mediagate_mirror_derive(p_all boolean, p_key text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    WITH todo AS (
        UPDATE cached_resource c SET derived_at = now()
         WHERE c.type = 'video' AND (p_key IS NULL OR c.key = p_key)
           AND (p_all OR c.derived_at IS NULL OR c.derived_at < c.updated_at)
        RETURNING c.key, c.data, c.deleted_at IS NOT NULL AS gone
    ), j AS (
        SELECT key, CASE WHEN gone THEN 'ERROR'
                         WHEN data->>'status' = 'ready' THEN 'COMPLETE'
                         WHEN data->>'status' = 'failed' THEN 'ERROR'
                         WHEN data->>'status' IN ('processing', 'updating') THEN 'PROGRESSING'
                         ELSE 'SUBMITTED' END AS status,
               CASE WHEN (data->>'duration') ~ '^[0-9]{1,9}(\.[0-9]+)?$'
                    THEN round((data->>'duration')::numeric * 1000)::bigint END AS duration_ms,
               CASE WHEN gone THEN 31 WHEN data->>'status' = 'failed' THEN 30 END AS error_code,
               CASE WHEN gone THEN 'the video was deleted on JW Platform'
                    WHEN data->>'status' = 'failed'
                    THEN 'JW Platform: ' || coalesce(left(data->>'error', 400), 'the video failed') END
                   AS error_message
          FROM todo
    )
    INSERT INTO jobs (id, backend, backend_job_id, input_file, status, progress_rate, duration_ms,
                      error_code, error_message)
    SELECT 'jwplatform:' || key, 'jwplatform', key, 'jwplatform/' || key, status,
           CASE WHEN status = 'COMPLETE' THEN 100 ELSE 0 END, duration_ms, error_code, error_message
      FROM j
    ON CONFLICT (backend, backend_job_id) WHERE backend_job_id IS NOT NULL DO UPDATE
       SET status = EXCLUDED.status, progress_rate = EXCLUDED.progress_rate,
           duration_ms = EXCLUDED.duration_ms, error_code = EXCLUDED.error_code,
           error_message = EXCLUDED.error_message, updated_at = now()
     WHERE (jobs.status, jobs.duration_ms, jobs.error_code, jobs.error_message)
           IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.duration_ms, EXCLUDED.error_code,
                             EXCLUDED.error_message);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- A webhook names a resource; its refresh is a worker task, queued in the
-- transaction that stores the notification, and only when a worker serves
-- the kind (then `notifications replay` queues it later). A refresh already
-- waiting for the same resource is enough. Returns what the notification
-- is filed under: 'jwplatform:<key>' (the video's job id) or
-- 'jwplatform-channel:<key>'.
CREATE FUNCTION mediagate_mirror_queue_refresh(r jsonb) RETURNS text
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

-- Every stored event goes through mediagate_apply_event (notify, replay,
-- task results): events that name a mirror resource ("refresh") queue its
-- refresh; the others are job events, as before.
ALTER FUNCTION mediagate_apply_event(text, jsonb) RENAME TO mediagate_apply_job_event;
CREATE FUNCTION mediagate_apply_event(p_backend text, ev jsonb) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN ev ? 'refresh' THEN mediagate_mirror_queue_refresh(ev->'refresh')
                ELSE mediagate_apply_job_event(p_backend, ev) END
$$;
