-- A change made here to JW video p_key: its title and/or its ACL (p_acl,
-- sms_acl's format 'acl:E1,E2:'); NULL leaves that one as it was. With
-- p_sync (MEDIAGATE_JWPLATFORM_SYNC_ITEMS), a jwplatform.update task is
-- queued in the same transaction, unless one is waiting already (it sends
-- the newest state when it runs). Returns the change's version.
CREATE OR REPLACE FUNCTION mediagate_jw_write(p_key text, p_title text, p_acl text, p_sync boolean)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v bigint;
    p jsonb := jsonb_build_object('key', p_key);
BEGIN
    INSERT INTO jwplatform_writes AS w (key, title, sms_acl) VALUES (p_key, p_title, p_acl)
    ON CONFLICT (key) DO UPDATE SET title = coalesce(EXCLUDED.title, w.title),
                                    sms_acl = coalesce(EXCLUDED.sms_acl, w.sms_acl),
                                    version = w.version + 1, changed_at = clock_timestamp()
    RETURNING version INTO v;
    IF p_sync AND NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'jwplatform.update'
                                 AND payload @> p AND done_at IS NULL AND failed_at IS NULL
                                 AND locked_by IS NULL) THEN
        INSERT INTO outbox (kind, payload) VALUES ('jwplatform.update', p);
    END IF;
    RETURN v;
END
$$;
