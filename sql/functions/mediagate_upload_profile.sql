-- Gives slot p_id's job the profile p_profile (profile_json's form, with
-- its name; a snapshot: a later edit of the profile does not reach it) and
-- p_kind, the task kind that starts its encode once the file is in: the
-- job's backend becomes the profile's encoder, and a cloud encoder's job
-- has no backend job id until its create call answers. p_profile NULL:
-- nothing changes. In the slot's own transaction.
CREATE OR REPLACE FUNCTION mediagate_upload_profile(p_id uuid, p_profile jsonb, p_kind text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    jid text;
BEGIN
    IF p_profile IS NULL THEN
        RETURN;
    END IF;
    UPDATE uploads SET profile = p_profile, encode_kind = p_kind WHERE id = p_id
    RETURNING job_id INTO jid;
    UPDATE jobs SET backend = p_profile->>'encoder', profile = p_profile->>'name',
           backend_job_id = CASE WHEN p_profile->>'encoder' = 'local' THEN backend_job_id END
     WHERE id = jid;
END
$$;
