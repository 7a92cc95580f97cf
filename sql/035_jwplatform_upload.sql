-- JW Platform uploads and write-back (app/uploads/jwplatform.c,
-- app/worker/jwplatform.c, docs/jwplatform.md).

-- A job's title: what the platform it lives on shows (a JW video's title).
ALTER TABLE jobs ADD COLUMN title text
    CHECK (title IS NULL OR (length(title) BETWEEN 1 AND 1000 AND title !~ '[[:cntrl:]]'));

-- A JW video made by POST /uploads (target=jwplatform). The row is
-- committed before /v1/videos/create is called, and the video carries its
-- id as custom.mediagate_upload. state: 'creating' until the answer is
-- recorded ('created', with key and job), 'failed' when JW refused it,
-- 'discarded' when the answer was lost and the jwplatform.discard task
-- (queued with the row) deleted the video JW made anyway. A video whose
-- marker names a row that is not 'created' is never derived into a job.
CREATE TABLE jwplatform_creates (
    id          uuid PRIMARY KEY,
    owner       text NOT NULL,
    state       text NOT NULL DEFAULT 'creating'
                CHECK (state IN ('creating', 'created', 'failed', 'discarded')),
    key         text CHECK (key ~ '^[A-Za-z0-9_-]{1,64}$'),
    job_id      text REFERENCES jobs (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jwplatform_creates_open ON jwplatform_creates (created_at) WHERE state = 'creating';

-- mediagate's own changes to a JW video (its title, its ACL as sms_acl),
-- written back to the platform by jwplatform.update tasks
-- (MEDIAGATE_JWPLATFORM_SYNC_ITEMS). version counts the changes,
-- sent_version is the newest one the platform took. NULL title or sms_acl:
-- never changed here (not sent). Until the mirror is written after
-- changed_at, a job's ACL is this row's sms_acl.
CREATE TABLE jwplatform_writes (
    key           text PRIMARY KEY CHECK (key ~ '^[A-Za-z0-9_-]{1,64}$'),
    title         text CHECK (title IS NULL OR length(title) BETWEEN 1 AND 1000),
    sms_acl       text CHECK (sms_acl IS NULL OR sms_acl ~ '^acl:[^:]*:$'),
    version       bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    sent_version  bigint NOT NULL DEFAULT 0 CHECK (sent_version >= 0),
    changed_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);

INSERT INTO task_kinds (name, max_attempts, timeout_s)
VALUES ('jwplatform.update', 1000, 60), ('jwplatform.discard', 12, 60) ON CONFLICT (name) DO NOTHING;
