-- After the signing record (sql/021_media_signing.sql) is written: when it
-- is new or changed, queue a media.acl task for every job COMPLETE on the
-- store that has none queued and not yet running (as
-- mediagate_media_acl_queue), so that every object follows the record.
CREATE OR REPLACE FUNCTION mediagate_media_signing_queue() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR OLD.signing IS DISTINCT FROM NEW.signing THEN
        INSERT INTO outbox (kind, payload)
        SELECT 'media.acl', jsonb_build_object('media_job', j.id)
          FROM jobs j
         WHERE j.storage = 's3' AND j.status = 'COMPLETE' AND NOT mediagate_media_acl_queued(j.id);
    END IF;
    RETURN NULL;
END
$$;
