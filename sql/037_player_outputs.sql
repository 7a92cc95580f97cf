-- What a player needs beside the ladder (the local encoder's extras): the
-- poster, the storyboard, MP4 renditions, the audio-only rendition and the
-- encryption of a COMPLETE job, as its COMPLETE event named them (file names
-- relative to output_path, like playlists); /media/status and the webhook
-- body answer them next to playlists. NULL: none (a provider's job, or one
-- encoded before they existed).
ALTER TABLE jobs ADD COLUMN extras jsonb
    CHECK (extras IS NULL OR jsonb_typeof(extras) = 'object');

-- HLS AES-128: the key of each encode attempt whose segments it encrypts
-- (an attempt that lost its lease never overwrites the holder's). The
-- playlists name GET /media/key/<job id>/<n>, answered only to callers the
-- job's ACL admits.
CREATE TABLE media_keys (
    job_id      text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    n           integer NOT NULL CHECK (n > 0),
    key         bytea NOT NULL CHECK (octet_length(key) = 16),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, n)
);

-- Captions of a job, one per language (a BCP 47 tag), stored as WebVTT
-- (an SRT upload is converted); a captions.publish task writes them beside
-- the job's outputs and adds them to its master playlist. published_at:
-- the files in place for this version (updated_at).
CREATE TABLE captions (
    job_id        text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    language      text NOT NULL CHECK (language ~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$'),
    label         text NOT NULL CHECK (label <> '' AND length(label) <= 100),
    vtt           text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    deleted_at    timestamptz,      -- removed by its owner; the files go with the next publish
    PRIMARY KEY (job_id, language)
);

-- Thumbnails made on request (GET /media/thumbnail): one row per job, time
-- and width, made once by a thumbnail.make task.
CREATE TABLE thumbnails (
    job_id      text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    time_ms     integer NOT NULL CHECK (time_ms >= 0),
    width       integer NOT NULL CHECK (width > 0),
    status      text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'made', 'failed')),
    file        text,               -- relative to the job's directory, once made
    bytes       integer,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    made_at     timestamptz,
    PRIMARY KEY (job_id, time_ms, width)
);
