-- The jobs made before sql/044: the next p_limit of them (by id, after
-- job_readers_fill's position) named (the jobs_name trigger) and given
-- their job_readers rows, in the caller's transaction, which holds only
-- those jobs' row locks. Returns whether jobs may remain: false once the
-- fill is done (its position row deleted) or when there was none.
CREATE OR REPLACE FUNCTION mediagate_jobs_backfill(p_limit integer) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_after text;
    v_last text;
BEGIN
    SELECT after INTO v_after FROM job_readers_fill FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    SELECT max(id) INTO v_last
      FROM (SELECT id FROM jobs WHERE id > v_after ORDER BY id LIMIT p_limit) b;
    IF v_last IS NULL THEN
        DELETE FROM job_readers_fill;
        RETURN false;
    END IF;
    -- locks the batch's rows: an edit of one waits, then its trigger
    -- writes the readers again
    UPDATE jobs SET name = NULL WHERE id > v_after AND id <= v_last;
    DELETE FROM job_readers WHERE job_id > v_after AND job_id <= v_last;
    INSERT INTO job_readers (job_id, principal, created_at)
    SELECT j.id, p, j.created_at
      FROM jobs j, mediagate_job_principals(j.owner, j.acl, j.backend) p
     WHERE j.id > v_after AND j.id <= v_last AND j.deleted_at IS NULL
        ON CONFLICT DO NOTHING; -- a job made meanwhile has its own
    UPDATE job_readers_fill SET after = v_last;
    RETURN true;
END
$$;
