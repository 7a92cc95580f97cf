-- Live broadcasts and the API keys of the callers that start them.

CREATE TABLE api_keys (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    key_hash    bytea NOT NULL UNIQUE,         -- SHA-256 of the key; the key is shown once
    key_prefix  text NOT NULL,                 -- first characters, to recognise a key in lists
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE streams (
    id              uuid PRIMARY KEY,
    owner           text NOT NULL,
    name            text NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    type            text NOT NULL CHECK (type = 'hls'),
    status          text NOT NULL DEFAULT 'STARTED'
                    CHECK (status IN ('STARTED', 'LIVE', 'IDLE', 'STOPPED')),
    stream_key_hash bytea NOT NULL UNIQUE,     -- SHA-256 of the RTMP stream key
    upload_token_hash bytea NOT NULL UNIQUE,   -- SHA-256 of the HTTP upload token
    upload_expires  timestamptz NOT NULL,
    start_date      timestamptz NOT NULL DEFAULT now(),
    stop_date       timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX streams_owner ON streams (owner, start_date DESC);
