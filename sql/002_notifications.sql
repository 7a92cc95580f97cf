-- Inbound notifications from encoding backends, stored raw before they are
-- applied, and the job columns they fill.

ALTER TABLE jobs
    ADD COLUMN event_time  timestamptz,          -- time of the newest event applied
    ADD COLUMN variations  jsonb,                -- Zencoder: one entry per output variation
    ADD COLUMN outputs     jsonb;                -- Tencent: transcoding outputs

CREATE TABLE notifications (
    id           bigserial PRIMARY KEY,
    backend      text NOT NULL,
    event_id     text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    body         bytea NOT NULL,                 -- the exact bytes received
    result       text NOT NULL CHECK (result IN ('applied', 'failed')),
    error        text,
    job_id       text,
    applied_at   timestamptz,
    replays      integer NOT NULL DEFAULT 0,
    UNIQUE (backend, event_id)
);
CREATE INDEX notifications_failed ON notifications (received_at) WHERE result = 'failed';

-- Work that an applied event asks for (e.g. Tencent ProcessMedia), written in
-- the same transaction; the worker issue claims it.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    run_after   timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0,
    done_at     timestamptz
);
CREATE INDEX outbox_pending ON outbox (run_after) WHERE done_at IS NULL;
