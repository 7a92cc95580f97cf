-- Queues the encode of slot p_id's file, whose job is p_job: p_input is
-- what the local encoder reads (the file's path as {"input": ...}, or the
-- bucket's object as {"input_key", "input_etag", "size"}). A slot without
-- a profile queues local.encode as before profiles; with one, its
-- encode_kind with the profile's snapshot: local.encode gets p_input and
-- "profile", a cloud encoder's create kind {"job_id", "profile", "input":
-- {"storage", "key"}} (key: uploads/<id>/<name>; etag and size on s3).
CREATE OR REPLACE FUNCTION mediagate_upload_encode(p_id uuid, p_job text, p_input jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    u uploads%ROWTYPE;
BEGIN
    SELECT * INTO u FROM uploads WHERE id = p_id;
    IF u.profile IS NULL OR coalesce(u.encode_kind, 'local.encode') = 'local.encode' THEN
        INSERT INTO outbox (kind, payload)
        VALUES ('local.encode', jsonb_build_object('job_id', p_job) || p_input
                || CASE WHEN u.profile IS NULL THEN '{}'::jsonb
                        ELSE jsonb_build_object('profile', u.profile) END);
        RETURN;
    END IF;
    INSERT INTO outbox (kind, payload)
    VALUES (u.encode_kind, jsonb_build_object(
        'job_id', p_job, 'profile', u.profile,
        'input', jsonb_strip_nulls(jsonb_build_object(
            'storage', coalesce(u.storage, 'local'),
            'key', 'uploads/' || u.id || '/' || u.name,
            'etag', u.etag, 'size', u.size))));
END
$$;
