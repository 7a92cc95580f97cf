-- mediagate_upload_create (sql/008) with the job's ACL, in one transaction,
-- so that the job is never visible without it.
CREATE OR REPLACE FUNCTION mediagate_upload_create_acl(p_id uuid, p_job text, p_owner text, p_name text,
                                            p_type text, p_max bigint, p_token bytea,
                                            p_ttl integer, p_acl text)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    exp timestamptz;
BEGIN
    exp := mediagate_upload_create(p_id, p_job, p_owner, p_name, p_type, p_max, p_token, p_ttl);
    IF p_acl IS NOT NULL THEN
        UPDATE jobs SET acl = p_acl WHERE id = p_job;
    END IF;
    RETURN exp;
END
$$;
