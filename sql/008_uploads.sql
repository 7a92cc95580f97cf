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

-- Makes a slot, its SUBMITTED job and, for a slot that waits for a PUT, the
-- task that ends it at expiry, in one transaction. p_ttl NULL: no slot
-- wait (a PUT with an API key stores the file at once). Returns the
-- expiry (NULL for those).
CREATE FUNCTION mediagate_upload_create(p_id uuid, p_job text, p_owner text, p_name text,
                                        p_type text, p_max bigint, p_token bytea,
                                        p_ttl integer)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    exp timestamptz := CASE WHEN p_ttl IS NULL THEN NULL
                            ELSE now() + make_interval(secs => p_ttl) END;
BEGIN
    INSERT INTO jobs (id, backend, backend_job_id, input_file)
    VALUES (p_job, 'local', 'upload:' || p_id, 'uploads/' || p_id || '/' || p_name);
    INSERT INTO uploads (id, job_id, owner, name, content_type, max_bytes, token_hash, expires_at)
    VALUES (p_id, p_job, p_owner, p_name, p_type, p_max, p_token, exp);
    IF exp IS NOT NULL THEN
        INSERT INTO outbox (kind, payload, run_after)
        VALUES ('upload.expire', jsonb_build_object('job_id', p_job, 'upload_id', p_id), exp);
    END IF;
    RETURN exp;
END
$$;

-- Why a PUT to slot p_id with token digest p_token (NULL: checked by
-- owner instead) and p_len bytes may not proceed: NULL when it may,
-- otherwise 'unknown' (no such slot, or the wrong token), 'used',
-- 'expired' or 'too_large'. Changes nothing.
CREATE FUNCTION mediagate_upload_check(p_id uuid, p_name text, p_token bytea, p_len bigint)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN u.id IS NULL OR u.name <> p_name OR u.token_hash IS NULL
                     OR u.token_hash <> p_token THEN 'unknown'
                WHEN u.stored_at IS NOT NULL THEN 'used'
                WHEN u.expires_at <= now() THEN 'expired'
                WHEN p_len > u.max_bytes THEN 'too_large'
           END
      FROM (SELECT 1) one LEFT JOIN uploads u ON u.id = p_id
$$;

-- The file of slot p_id (p_size bytes, at p_path) is in place: spends the
-- token and queues the encode, in one transaction. Returns the job id, or
-- NULL when the slot was spent, expired or the token is wrong meanwhile
-- (then nothing changed). p_token NULL: the slot has no token (API key).
CREATE FUNCTION mediagate_upload_store(p_id uuid, p_token bytea, p_size bigint, p_path text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    jid text;
BEGIN
    UPDATE uploads SET stored_at = now(), size = p_size
     WHERE id = p_id AND stored_at IS NULL AND p_size <= max_bytes
       AND (expires_at IS NULL OR expires_at > now())
       AND token_hash IS NOT DISTINCT FROM p_token
    RETURNING job_id INTO jid;
    IF NOT FOUND THEN
        -- Stored already with this very file: the same request's retry
        -- after a connection lost past the commit (db_exec retries once).
        -- Its caller renamed the file into place, so nobody else did.
        SELECT job_id INTO jid FROM uploads
         WHERE id = p_id AND stored_at IS NOT NULL AND size = p_size
           AND token_hash IS NOT DISTINCT FROM p_token;
        RETURN jid;
    END IF;
    INSERT INTO outbox (kind, payload)
    VALUES ('local.encode', jsonb_build_object('job_id', jid, 'input', p_path));
    RETURN jid;
END
$$;

-- The upload.expire task: the job of a slot that never got its file is
-- CANCELED (the slot refuses PUTs from its expiry on). Returns true when it did that.
CREATE FUNCTION mediagate_upload_expire(p_id uuid) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    jid text;
BEGIN
    SELECT job_id INTO jid FROM uploads
     WHERE id = p_id AND stored_at IS NULL AND expires_at <= now();
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM mediagate_job_event(jid, jsonb_build_object(
        'status', 'CANCELED',
        'error_message', 'the upload URL expired before a file arrived'));
    RETURN true;
END
$$;

-- A PUT that held an API key: the slot, its job and the encode of the file
-- already in place at p_path, in one transaction. Returns the job id.
CREATE FUNCTION mediagate_upload_put(p_id uuid, p_job text, p_owner text, p_name text,
                                     p_type text, p_max bigint, p_size bigint, p_path text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    -- p_id is fresh for each request: a row with it is this request's own,
    -- committed before a lost connection made db_exec retry.
    IF EXISTS (SELECT 1 FROM uploads WHERE id = p_id) THEN
        RETURN (SELECT job_id FROM uploads WHERE id = p_id AND stored_at IS NOT NULL);
    END IF;
    PERFORM mediagate_upload_create(p_id, p_job, p_owner, p_name, p_type, p_max, NULL, NULL);
    RETURN mediagate_upload_store(p_id, NULL, p_size, p_path);
END
$$;
