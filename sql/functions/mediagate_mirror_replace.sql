-- Replaces every resource of p_type with the session's temporary table
-- mirror_incoming (key, data), which `mediagate sync` filled, in the
-- caller's one transaction: readers see the old mirror or the new one,
-- never a mix. A video is rewritten only when its "updated" changed, a
-- channel only when its data changed, unless p_force. Rows written since
-- p_since (a webhook's refresh during the fetch) are fresher than the
-- fetch and are left alone. Returns the counts.
CREATE OR REPLACE FUNCTION mediagate_mirror_replace(p_type text, p_force boolean, p_since timestamptz)
RETURNS TABLE (created bigint, updated bigint, deleted bigint, revived bigint, unchanged bigint)
LANGUAGE plpgsql AS $$
DECLARE
    n_in bigint;
BEGIN
    SELECT count(*) INTO n_in FROM mirror_incoming;
    UPDATE cached_resource c
       SET data = i.data, updated = mediagate_mirror_updated(i.data), deleted_at = NULL,
           updated_at = now()
      FROM mirror_incoming i
     WHERE c.type = p_type AND c.key = i.key AND c.deleted_at IS NOT NULL AND c.updated_at < p_since;
    GET DIAGNOSTICS revived = ROW_COUNT;
    UPDATE cached_resource c
       SET data = i.data, updated = mediagate_mirror_updated(i.data), updated_at = now()
      FROM mirror_incoming i
     WHERE c.type = p_type AND c.key = i.key AND c.deleted_at IS NULL AND c.updated_at < p_since
       AND (p_force OR CASE WHEN p_type = 'video'
                            THEN c.updated IS DISTINCT FROM mediagate_mirror_updated(i.data)
                            ELSE c.data IS DISTINCT FROM i.data END);
    GET DIAGNOSTICS updated = ROW_COUNT;
    INSERT INTO cached_resource (type, key, data, updated)
    SELECT p_type, i.key, i.data, mediagate_mirror_updated(i.data) FROM mirror_incoming i
     WHERE NOT EXISTS (SELECT 1 FROM cached_resource c WHERE c.type = p_type AND c.key = i.key)
    ON CONFLICT (type, key) DO NOTHING;
    GET DIAGNOSTICS created = ROW_COUNT;
    UPDATE cached_resource c SET deleted_at = now(), updated_at = now()
     WHERE c.type = p_type AND c.deleted_at IS NULL AND c.updated_at < p_since
       AND NOT EXISTS (SELECT 1 FROM mirror_incoming i WHERE i.key = c.key);
    GET DIAGNOSTICS deleted = ROW_COUNT;
    unchanged := n_in - created - updated - revived;
    RETURN NEXT;
END
$$;
