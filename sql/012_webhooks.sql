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

CREATE CONSTRAINT TRIGGER streams_webhook AFTER UPDATE OF status ON streams
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION mediagate_webhook_stream();

-- Per row, so that a statement changing no endpoint (each delivery's
-- record names the endpoint table) costs nothing.
CREATE TRIGGER webhook_endpoints_arm AFTER INSERT OR DELETE OR UPDATE OF enabled
ON webhook_endpoints FOR EACH ROW EXECUTE FUNCTION mediagate_webhook_arm();
CREATE TRIGGER webhook_endpoints_arm_truncate AFTER TRUNCATE
ON webhook_endpoints FOR EACH STATEMENT EXECUTE FUNCTION mediagate_webhook_arm();
ALTER TABLE jobs DISABLE TRIGGER jobs_webhook_insert;
ALTER TABLE jobs DISABLE TRIGGER jobs_webhook_update;
ALTER TABLE streams DISABLE TRIGGER streams_webhook;

CREATE TRIGGER outbox_webhook_dead AFTER UPDATE OF failed_at ON outbox FOR EACH ROW
WHEN (NEW.kind = 'webhook.deliver' AND NEW.failed_at IS NOT NULL AND OLD.failed_at IS NULL)
EXECUTE FUNCTION mediagate_webhook_task_dead();
