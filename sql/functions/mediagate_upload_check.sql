-- Why a PUT to slot p_id with token digest p_token (NULL: checked by
-- owner instead) and p_len bytes may not proceed: NULL when it may,
-- otherwise 'unknown' (no such slot, or the wrong token), 'used',
-- 'expired', 'too_large' or 'tus' (its file comes in chunks, through
-- handlers/tus.c). Changes nothing.
CREATE OR REPLACE FUNCTION mediagate_upload_check(p_id uuid, p_name text, p_token bytea, p_len bigint)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN u.id IS NULL OR u.name <> p_name OR u.token_hash IS NULL
                     OR u.token_hash <> p_token THEN 'unknown'
                WHEN u.stored_at IS NOT NULL THEN 'used'
                WHEN u.expires_at <= now() THEN 'expired'
                WHEN p_len > u.max_bytes THEN 'too_large'
                WHEN u.tus_length IS NOT NULL THEN 'tus'
           END
      FROM (SELECT 1) one LEFT JOIN uploads u ON u.id = p_id
$$;
