-- JW answered p_id's create with video p_key: its job ('jwplatform:<key>',
-- SUBMITTED until the mirror sees the video), its uploads row (target
-- 'jwplatform', expiring with JW's link after 7 days, with its
-- upload.expire task: app/worker/jwplatform.c deletes a video that never
-- got its file, and the job is CANCELED) and the video's
-- sms_acl as sent (jwplatform_writes, already on the platform: the job's
-- ACL until the mirror has the video; the title is written back only once
-- changed here), in one transaction. Returns the link's expiry; NULL (nothing written)
-- when the create is no longer in flight (discarded meanwhile).
CREATE OR REPLACE FUNCTION mediagate_jw_upload_created(p_id uuid, p_key text, p_name text,
                                                       p_type text, p_max bigint, p_title text,
                                                       p_acl text)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    j text := 'jwplatform:' || p_key;
    o text;
    exp timestamptz := now() + interval '7 days';
BEGIN
    UPDATE jwplatform_creates SET state = 'created', key = p_key, updated_at = now()
     WHERE id = p_id AND state = 'creating' RETURNING owner INTO o;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO jobs (id, backend, backend_job_id, input_file, title)
    VALUES (j, 'jwplatform', p_key, 'jwplatform/' || p_key, p_title)
    ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, updated_at = now();
    INSERT INTO uploads (id, job_id, owner, name, content_type, max_bytes, expires_at, target)
    VALUES (p_id, j, o, p_name, p_type, p_max, exp, 'jwplatform');
    INSERT INTO jwplatform_writes (key, title, sms_acl, version, sent_version, sent_at)
    VALUES (p_key, NULL, p_acl, 1, 1, now())
    ON CONFLICT (key) DO NOTHING;
    INSERT INTO outbox (kind, payload, run_after)
    VALUES ('upload.expire', jsonb_build_object('job_id', j, 'upload_id', p_id), exp);
    UPDATE jwplatform_creates SET job_id = j WHERE id = p_id;
    RETURN exp;
END
$$;
