-- Encode profiles and the encoders mediagate drives (app/encoders/).

-- A profile is data: the renditions, the packaging and the encoder
-- (app/profile.h has spec's form). Written by `mediagate profiles` and
-- `mediagate migrate` (the shipped ones), each checked by its encoder.
CREATE TABLE profiles (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    encoder     text NOT NULL,
    spec        jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
    shipped     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The profile a job was made with; NULL: registered (POST /media/jobs
-- with a backend job id) or made before profiles.
ALTER TABLE jobs ADD COLUMN profile text;

-- The profiles an API key may use; NULL: any.
ALTER TABLE api_keys ADD COLUMN profiles text[];

-- 'poll': the reconciler asked the encoder, nobody pushed it.
ALTER TABLE notifications ADD COLUMN source text NOT NULL DEFAULT 'push'
    CHECK (source IN ('push', 'poll'));
