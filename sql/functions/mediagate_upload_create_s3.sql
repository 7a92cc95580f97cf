-- mediagate_upload_create_acl (a slot, its job and its expiry task) for a
-- slot whose file goes straight to the bucket: p_size bytes exactly, in
-- one PUT or, with p_multipart (the bucket's upload id), in parts. One
-- transaction. Returns the expiry.
CREATE OR REPLACE FUNCTION mediagate_upload_create_s3(p_id uuid, p_job text, p_owner text, p_name text,
                                           p_type text, p_max bigint, p_token bytea,
                                           p_ttl integer, p_acl text, p_size bigint,
                                           p_multipart text)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    exp timestamptz;
BEGIN
    exp := mediagate_upload_create_acl(p_id, p_job, p_owner, p_name, p_type, p_max, p_token,
                                       p_ttl, p_acl);
    UPDATE uploads SET storage = 's3', declared_size = p_size, multipart_id = p_multipart
     WHERE id = p_id;
    RETURN exp;
END
$$;
