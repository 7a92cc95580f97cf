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

-- Whose upload or stream the local.encode task NEW encodes (the upload's
-- row, and the stream's, are written before the task in the same
-- transaction).
CREATE FUNCTION mediagate_outbox_owner() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.owner := coalesce(
        (SELECT u.owner FROM uploads u WHERE u.job_id = NEW.payload->>'job_id'),
        CASE WHEN NEW.payload->>'stream_id' ~ '^[0-9a-fA-F-]{36}$' THEN
            (SELECT s.owner FROM streams s WHERE s.id = (NEW.payload->>'stream_id')::uuid) END);
    RETURN NEW;
END
$$;
CREATE TRIGGER outbox_owner BEFORE INSERT ON outbox
    FOR EACH ROW WHEN (NEW.kind = 'local.encode' AND NEW.owner IS NULL)
    EXECUTE FUNCTION mediagate_outbox_owner();

UPDATE outbox o SET owner = u.owner FROM uploads u
 WHERE o.kind = 'local.encode' AND o.done_at IS NULL AND o.failed_at IS NULL
   AND u.job_id = o.payload->>'job_id';
UPDATE outbox o SET owner = s.owner FROM streams s
 WHERE o.kind = 'local.encode' AND o.done_at IS NULL AND o.failed_at IS NULL AND o.owner IS NULL
   AND s.vod_job_id = o.payload->>'job_id';

-- Whether the claim in progress may take a task of p_owner under a cap of
-- p_cap running tasks (0: no cap). Claims of one owner's tasks take turns:
-- the first holds a transaction lock on the owner until it commits, and
-- the others skip that owner's tasks meanwhile (as SKIP LOCKED skips
-- rows), so two claims at the same moment cannot both pass the cap. The
-- count runs after the lock is taken, on a snapshot of its own (a volatile
-- function's statement), so it sees every claim committed before.
CREATE FUNCTION mediagate_owner_may_claim(p_owner text, p_cap integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF p_owner IS NULL OR p_cap <= 0 THEN
        RETURN true;
    END IF;
    IF NOT pg_try_advisory_xact_lock(hashtext('mediagate owner cap'), hashtext(p_owner)) THEN
        RETURN false;
    END IF;
    RETURN (SELECT count(*) FROM outbox
             WHERE owner = p_owner AND done_at IS NULL AND failed_at IS NULL
               AND locked_until > now()) < p_cap;
END
$$;

-- A full media disk is not the input's fault: attempt p_token of task p_id
-- ends without counting, to run again p_delay seconds on with p_error
-- kept. Returns true, or NULL (changing nothing) when p_worker does not
-- hold the attempt.
CREATE FUNCTION mediagate_task_snooze(p_id bigint, p_token integer, p_worker text,
                                      p_delay double precision, p_error text)
RETURNS boolean LANGUAGE sql AS $$
    UPDATE outbox SET attempts = greatest(attempts - 1, 0), last_error = p_error,
                      locked_by = NULL, locked_until = NULL,
                      run_after = now() + make_interval(secs => greatest(p_delay, 0))
     WHERE id = p_id AND attempts = p_token AND locked_by = p_worker
       AND done_at IS NULL AND failed_at IS NULL
    RETURNING true
$$;
