-- The JW Platform mirror: the platform's videos and channels as JSONB
-- cached resources (one JSONB document per resource), kept fresh
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
