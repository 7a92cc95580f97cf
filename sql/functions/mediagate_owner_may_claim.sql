-- Whether the claim in progress may take a task of p_owner under a cap of
-- p_cap running tasks (0: no cap). Claims of one owner's tasks take turns:
-- the first holds a transaction lock on the owner until it commits, and
-- the others skip that owner's tasks meanwhile (as SKIP LOCKED skips
-- rows), so two claims at the same moment cannot both pass the cap. The
-- count runs after the lock is taken, on a snapshot of its own (a volatile
-- function's statement), so it sees every claim committed before.
CREATE OR REPLACE FUNCTION mediagate_owner_may_claim(p_owner text, p_cap integer) RETURNS boolean
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
