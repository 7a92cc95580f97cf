-- Direct uploads (POST /uploads): a slot and its job are made at once; the
-- file arrives later at the slot's URL, which carries a single-use token
-- (stored here as its SHA-256 only). Every upload is stored under its own
-- unguessable id, uploads/<id>/<name>, so no upload replaces another's.
CREATE TABLE uploads (
    id            uuid PRIMARY KEY,
    job_id        text NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
    owner         text NOT NULL,
    name          text NOT NULL CHECK (name <> '' AND position('/' IN name) = 0),
    content_type  text,
    max_bytes     bigint NOT NULL CHECK (max_bytes > 0),
    token_hash    bytea CHECK (token_hash IS NULL OR octet_length(token_hash) = 32),
                                              -- NULL: made by a PUT that held an API key
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,                -- NULL: made by a PUT that held an API key
    stored_at     timestamptz,                -- the file is in place and its encode queued
    size          bigint CHECK (size >= 0)
);

-- An expired slot that never got its file: its job is CANCELED.
INSERT INTO task_kinds (name, max_attempts, timeout_s)
VALUES ('upload.expire', 10, 60) ON CONFLICT (name) DO NOTHING;
