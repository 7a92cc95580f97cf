-- A slot whose file goes straight to platform p_target (tencent, mux), in
-- one transaction: the job (with its ACL and profile p_profile, whose
-- encoder is that platform's), the uploads row (no token: no byte comes
-- here) and the upload.expire task at p_ttl seconds. The job's input_file
-- is the slot's name until the platform names the file. Returns the
-- expiry.
CREATE OR REPLACE FUNCTION mediagate_upload_create_platform(p_id uuid, p_job text, p_owner text,
                                            p_name text, p_type text, p_max bigint,
                                            p_ttl integer, p_acl text, p_profile jsonb,
                                            p_kind text, p_target text)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    exp timestamptz;
BEGIN
    exp := mediagate_upload_create_acl(p_id, p_job, p_owner, p_name, p_type, p_max, NULL, p_ttl,
                                       p_acl);
    PERFORM mediagate_upload_profile(p_id, p_profile, p_kind);
    UPDATE uploads SET target = p_target WHERE id = p_id;
    UPDATE jobs SET input_file = p_name WHERE id = p_job;
    RETURN exp;
END
$$;
