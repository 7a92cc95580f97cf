-- The local encoder's shares and outcomes: an encode task carries the
-- owner whose upload or stream it encodes, so that the claim can cap how
-- many encodes one owner runs at once (MEDIAGATE_ENCODE_OWNER_CAP); and a
-- task may wait without its attempt counting (a full media disk is not
-- the input's fault).

-- NULL: no owner (mediagate submit, a file dropped in the uploads
-- directory): never capped.
ALTER TABLE outbox ADD COLUMN owner text;

-- The claim counts an owner's running tasks.
CREATE INDEX outbox_owner_running ON outbox (owner)
    WHERE owner IS NOT NULL AND done_at IS NULL AND failed_at IS NULL;

CREATE TRIGGER outbox_owner BEFORE INSERT ON outbox
    FOR EACH ROW WHEN (NEW.kind = 'local.encode' AND NEW.owner IS NULL)
    EXECUTE FUNCTION mediagate_outbox_owner();

UPDATE outbox o SET owner = u.owner FROM uploads u
 WHERE o.kind = 'local.encode' AND o.done_at IS NULL AND o.failed_at IS NULL
   AND u.job_id = o.payload->>'job_id';
UPDATE outbox o SET owner = s.owner FROM streams s
 WHERE o.kind = 'local.encode' AND o.done_at IS NULL AND o.failed_at IS NULL AND o.owner IS NULL
   AND s.vod_job_id = o.payload->>'job_id';
