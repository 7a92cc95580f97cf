-- Webhooks to the customer's own app (Standard Webhooks). A job's or a
-- stream's state change queues, in its own transaction, one delivery per
-- subscribed enabled endpoint and one webhook.deliver task per delivery.
-- The delivery's id (webhook-id) and body are fixed when it is made, so
-- every attempt sends the same bytes under the same id.

-- The endpoints `mediagate webhook add` registers. The secret signs the
-- deliveries (whsec_ + base64 of the key); it is shown once, at add.
CREATE TABLE webhook_endpoints (
    id              bigserial PRIMARY KEY,
    url             text NOT NULL CHECK (url ~* '^https?://' AND length(url) <= 2048),
    secret          text NOT NULL CHECK (secret LIKE 'whsec\_%'),
    events          text[],                     -- NULL: every event
    enabled         boolean NOT NULL DEFAULT true,
    disabled_reason text,                       -- why enabled went false (410 Gone)
    disabled_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    endpoint_id     bigint NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    msg_id          text NOT NULL UNIQUE,       -- webhook-id: msg_<uuid>, the same on every attempt
    event_type      text NOT NULL,
    subject         text NOT NULL,              -- job:<id> or stream:<id>
    body            text NOT NULL,              -- the exact bytes every attempt sends
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0, -- attempts whose outcome was recorded
    last_status     integer,                    -- the HTTP status of the last answer
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    next_attempt_at timestamptz,
    delivered_at    timestamptz
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);

-- job.progressing is sent at most once per job per 5 seconds: when each
-- subject last had one.
CREATE TABLE webhook_throttle (
    subject text PRIMARY KEY,
    last_at timestamptz NOT NULL
);

-- The kind the deliveries are queued as; every worker writes its row too.
INSERT INTO task_kinds (name, max_attempts, timeout_s) VALUES ('webhook.deliver', 8, 60)
ON CONFLICT (name) DO NOTHING;

-- What GET /media/status?job_id= answers for job j (handlers/media_status.c),
-- plus its job_id.
CREATE FUNCTION mediagate_job_status_json(j jobs) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('success', true, 'job_status', j.status,
                              'progress_rate', j.progress_rate, 'job_id', j.id)
        || CASE WHEN j.status = 'COMPLETE' THEN
               jsonb_build_object('duration_ms', j.duration_ms, 'width_px', j.width_px,
                                  'height_px', j.height_px, 'output_path', j.output_path,
                                  'playlists', coalesce(j.playlists, '{}'::jsonb))
               || CASE WHEN j.variations IS NULL THEN '{}'::jsonb
                       ELSE jsonb_build_object('variations', j.variations) END
           ELSE '{}'::jsonb END
        || CASE WHEN j.status = 'ERROR' THEN
               jsonb_build_object('error_code', j.error_code, 'error_message', j.error_message)
           ELSE '{}'::jsonb END
$$;

-- What GET /stream/status?id= answers for stream s (handlers/stream.c).
CREATE FUNCTION mediagate_stream_status_json(s streams) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('stream', jsonb_strip_nulls(jsonb_build_object(
        'id', s.id, 'name', s.name, 'status', s.status,
        'start_date', to_char(s.start_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
        'stop_date', to_char(s.stop_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
        'vod_job_id', s.vod_job_id)))
$$;

-- Queues event p_type about p_subject with p_data: one delivery per enabled
-- endpoint subscribed to it, each with its webhook.deliver task. Only when
-- a worker serves that kind (the outbox refuses a kind nobody serves).
-- Returns how many deliveries were made.
CREATE FUNCTION mediagate_webhook_queue(p_type text, p_subject text, p_data jsonb)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    body text;
    n    integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM task_kinds WHERE name = 'webhook.deliver') THEN
        RETURN 0;
    END IF;
    body := '{"type":' || to_jsonb(p_type)::text
         || ',"timestamp":' || to_jsonb(to_char(now() AT TIME ZONE 'UTC',
                                                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
         || ',"data":' || p_data::text || '}';
    WITH d AS (
        INSERT INTO webhook_deliveries (endpoint_id, msg_id, event_type, subject, body)
        SELECT e.id, 'msg_' || gen_random_uuid(), p_type, p_subject, body
          FROM webhook_endpoints e
         WHERE e.enabled AND (e.events IS NULL OR p_type = ANY (e.events))
        RETURNING id)
    INSERT INTO outbox (kind, payload)
    SELECT 'webhook.deliver', jsonb_build_object('delivery_id', d.id) FROM d;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Deferred to the commit, so that the body shows the row as the
-- transaction leaves it (a stop's vod_job_id, set after its status); an
-- event whose status a later change in the same transaction replaced is
-- not sent.
CREATE FUNCTION mediagate_webhook_job() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    j  jobs%ROWTYPE;
    ev text;
    n  integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) THEN
        RETURN NULL;
    END IF;
    SELECT * INTO j FROM jobs WHERE id = NEW.id;
    IF NOT FOUND OR j.status <> NEW.status THEN
        RETURN NULL;
    END IF;
    ev := CASE j.status WHEN 'PROGRESSING' THEN 'job.progressing'
                        WHEN 'COMPLETE' THEN 'job.complete'
                        WHEN 'ERROR' THEN 'job.errored'
                        WHEN 'CANCELED' THEN 'job.canceled' END;
    IF ev IS NULL THEN
        RETURN NULL;
    END IF;
    IF ev = 'job.progressing' THEN
        INSERT INTO webhook_throttle AS t (subject, last_at) VALUES ('job:' || j.id, now())
        ON CONFLICT (subject) DO UPDATE SET last_at = EXCLUDED.last_at
         WHERE t.last_at <= now() - interval '5 seconds';
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 0 THEN
            RETURN NULL;
        END IF;
    ELSE
        DELETE FROM webhook_throttle WHERE subject = 'job:' || j.id;
    END IF;
    PERFORM mediagate_webhook_queue(ev, 'job:' || j.id, mediagate_job_status_json(j));
    RETURN NULL;
END
$$;

-- A new job that is not SUBMITTED, or a change of status, or of progress
-- while PROGRESSING, is an event.
CREATE CONSTRAINT TRIGGER jobs_webhook_insert AFTER INSERT ON jobs
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (NEW.status <> 'SUBMITTED')
EXECUTE FUNCTION mediagate_webhook_job();
CREATE CONSTRAINT TRIGGER jobs_webhook_update AFTER UPDATE OF status, progress_rate ON jobs
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status
      OR (NEW.status = 'PROGRESSING' AND OLD.progress_rate IS DISTINCT FROM NEW.progress_rate))
EXECUTE FUNCTION mediagate_webhook_job();

CREATE FUNCTION mediagate_webhook_stream() RETURNS trigger
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

CREATE CONSTRAINT TRIGGER streams_webhook AFTER UPDATE OF status ON streams
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION mediagate_webhook_stream();

-- Firing a trigger costs a notification about 15% of its throughput even
-- when it finds no endpoint, so the three triggers are on only while an
-- enabled endpoint exists: every change of the endpoints turns them on or
-- off (a lock on jobs and streams for a moment; endpoints change rarely).
CREATE FUNCTION mediagate_webhook_arm() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    how text := CASE WHEN EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled)
                     THEN 'ENABLE' ELSE 'DISABLE' END;
BEGIN
    IF how = 'ENABLE' IS DISTINCT FROM (SELECT tgenabled <> 'D' FROM pg_trigger
                                         WHERE tgrelid = 'jobs'::regclass
                                           AND tgname = 'jobs_webhook_update') THEN
        EXECUTE format('ALTER TABLE jobs %s TRIGGER jobs_webhook_insert', how);
        EXECUTE format('ALTER TABLE jobs %s TRIGGER jobs_webhook_update', how);
        EXECUTE format('ALTER TABLE streams %s TRIGGER streams_webhook', how);
    END IF;
    RETURN NULL;
END
$$;

-- Per row, so that a statement changing no endpoint (each delivery's
-- record names the endpoint table) costs nothing.
CREATE TRIGGER webhook_endpoints_arm AFTER INSERT OR DELETE OR UPDATE OF enabled
ON webhook_endpoints FOR EACH ROW EXECUTE FUNCTION mediagate_webhook_arm();
CREATE TRIGGER webhook_endpoints_arm_truncate AFTER TRUNCATE
ON webhook_endpoints FOR EACH STATEMENT EXECUTE FUNCTION mediagate_webhook_arm();
ALTER TABLE jobs DISABLE TRIGGER jobs_webhook_insert;
ALTER TABLE jobs DISABLE TRIGGER jobs_webhook_update;
ALTER TABLE streams DISABLE TRIGGER streams_webhook;

-- A webhook.deliver task that dies without recording its outcome (reaped
-- after its worker died during every attempt, canceled by an operator, or
-- failed on a last attempt whose outcome could not be written) fails its
-- delivery, so that none stays pending for ever.
CREATE FUNCTION mediagate_webhook_task_dead() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE webhook_deliveries
       SET state = 'failed', next_attempt_at = NULL,
           last_error = coalesce(NEW.last_error, 'the task died')
     WHERE id = (NEW.payload->>'delivery_id')::bigint AND state = 'pending';
    RETURN NULL;
END
$$;

CREATE TRIGGER outbox_webhook_dead AFTER UPDATE OF failed_at ON outbox FOR EACH ROW
WHEN (NEW.kind = 'webhook.deliver' AND NEW.failed_at IS NOT NULL AND OLD.failed_at IS NULL)
EXECUTE FUNCTION mediagate_webhook_task_dead();

-- mediagate webhook redeliver ID: the delivery is sent again, under the same
-- webhook-id and body. Returns 'queued', 'queued_already' (a task of it is
-- waiting or running), 'endpoint_disabled' or 'no_such_delivery'.
CREATE FUNCTION mediagate_webhook_redeliver(p_id bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    d webhook_deliveries%ROWTYPE;
    e webhook_endpoints%ROWTYPE;
BEGIN
    SELECT * INTO d FROM webhook_deliveries WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_such_delivery';
    END IF;
    SELECT * INTO e FROM webhook_endpoints WHERE id = d.endpoint_id;
    IF NOT e.enabled THEN
        RETURN 'endpoint_disabled';
    END IF;
    IF EXISTS (SELECT 1 FROM outbox WHERE kind = 'webhook.deliver'
                  AND payload @> jsonb_build_object('delivery_id', p_id)
                  AND done_at IS NULL AND failed_at IS NULL) THEN
        RETURN 'queued_already';
    END IF;
    UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = now() WHERE id = p_id;
    INSERT INTO outbox (kind, payload)
    VALUES ('webhook.deliver', jsonb_build_object('delivery_id', p_id));
    RETURN 'queued';
END
$$;
