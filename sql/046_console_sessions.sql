-- The console's short-lived sessions (POST /media/session): a token made
-- from an API key, shown once and kept here as its SHA-256, that is then
-- the caller's credential until it expires, is signed out, or its API key
-- is revoked (app/caller.c).
CREATE TABLE console_sessions (
    id          bigserial PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- the API key it was made from: revoking the key ends the session at
    -- once, deleting it removes the row
    key_id      bigint REFERENCES api_keys ON DELETE CASCADE,
    -- the caller it stands for, as the key's caller reads: its owner
    -- ("key:<id>", app/acl.h) and user (the key's name)
    owner       text NOT NULL CHECK (owner ~ '^(key|user):.'),
    user_name   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz                  -- signed out (DELETE /media/session)
);
-- The purge of expired rows, a few at each new session.
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
-- The cascade from api_keys.
CREATE INDEX console_sessions_key ON console_sessions (key_id);
