-- One resource as the platform answers it now (a webhook's refresh):
-- written whatever its "updated", revived if it was deleted. p_data NULL:
-- the platform has it no more (404), so it gets deleted_at. Returns
-- 'created', 'updated', 'revived', 'deleted' or 'unchanged'.
CREATE OR REPLACE FUNCTION mediagate_mirror_put(p_type text, p_key text, p_data jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c cached_resource%ROWTYPE;
BEGIN
    SELECT * INTO c FROM cached_resource WHERE type = p_type AND key = p_key FOR UPDATE;
    IF p_data IS NULL THEN
        IF NOT FOUND OR c.deleted_at IS NOT NULL THEN
            RETURN 'unchanged';
        END IF;
        UPDATE cached_resource SET deleted_at = now(), updated_at = now()
         WHERE type = p_type AND key = p_key;
        RETURN 'deleted';
    END IF;
    IF NOT FOUND THEN
        INSERT INTO cached_resource (type, key, data, updated)
        VALUES (p_type, p_key, p_data, mediagate_mirror_updated(p_data))
        ON CONFLICT (type, key) DO UPDATE SET data = EXCLUDED.data, updated = EXCLUDED.updated,
                                              deleted_at = NULL, updated_at = now();
        RETURN 'created';
    END IF;
    IF c.deleted_at IS NULL AND c.data = p_data THEN
        RETURN 'unchanged';
    END IF;
    UPDATE cached_resource SET data = p_data, updated = mediagate_mirror_updated(p_data),
                               deleted_at = NULL, updated_at = now()
     WHERE type = p_type AND key = p_key;
    RETURN CASE WHEN c.deleted_at IS NULL THEN 'updated' ELSE 'revived' END;
END
$$;
