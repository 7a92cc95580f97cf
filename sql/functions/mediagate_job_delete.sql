-- DELETE /media/jobs/<id> by p_owner, or the retention purge (p_owner
-- NULL): job p_job is deleted, in one transaction. A running job is
-- canceled first (mediagate_job_cancel, with p_create_kinds and p_remote
-- as `mediagate jobs cancel` passes them: its local encode or fetch loses
-- its lease, a cloud encoder's job gets an encoder.cancel task); its other
-- unfinished work (captions, thumbnails, ACL changes, polls) is dropped;
-- an open upload slot is closed (its upload.expire task run now, which
-- discards what is in flight); the job answers as unknown from now on
-- (deleted_at); a job.delete task removes its files once nothing of the
-- job runs any more (not before the latest lease its tasks held, so a
-- holder that has not yet learnt it was canceled is waited for); and a
-- job.deleted webhook event (p_reason: 'owner' or 'retention') is queued.
-- A task names its job as job_id, or as media_job (media.acl,
-- captions.publish): both are the job's (the index of sql/047).
-- Returns one row: result 'deleted' with the job's status after it, or
-- 'no_such_job' (absent, deleted already, or not p_owner's), or
-- 'platform_managed' (a JW Platform video not made here: nothing changed).
CREATE OR REPLACE FUNCTION mediagate_job_delete(p_job text, p_owner text,
                                                p_create_kinds text[], p_remote text[],
                                                p_reason text)
RETURNS TABLE (result text, job_status text)
LANGUAGE plpgsql AS $$
DECLARE
    j jobs%ROWTYPE;
    not_before timestamptz;
BEGIN
    SELECT * INTO j FROM jobs
     WHERE id = p_job AND deleted_at IS NULL AND (p_owner IS NULL OR owner = p_owner)
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_such_job'::text, NULL::text;
        RETURN;
    END IF;
    SELECT max(locked_until) INTO not_before FROM outbox
     WHERE coalesce(payload->>'job_id', payload->>'media_job') = p_job
       AND done_at IS NULL AND failed_at IS NULL
       AND kind NOT IN ('webhook.deliver', 'job.delete');
    IF mediagate_status_rank(j.status) < 2
       AND mediagate_job_cancel(p_job, p_create_kinds, p_remote) = 'platform_managed' THEN
        RETURN QUERY SELECT 'platform_managed'::text, j.status;
        RETURN;
    END IF;
    -- What would write the job's files again, or act on it, never runs:
    -- the encoder.cancel just queued and the upload.expire of a slot stay,
    -- and so does a create in flight at a cloud encoder (its answer names
    -- the job the encoder.cancel cancels; one not tried was dropped above).
    UPDATE outbox SET failed_at = now(), last_error = 'its job was deleted',
                      locked_by = NULL, locked_until = NULL
     WHERE coalesce(payload->>'job_id', payload->>'media_job') = p_job
       AND done_at IS NULL AND failed_at IS NULL
       AND kind NOT IN ('webhook.deliver', 'job.delete', 'encoder.cancel', 'upload.expire')
       AND (kind IN ('local.encode', 'upload.fetch') OR NOT (kind = ANY (p_create_kinds)));
    UPDATE uploads SET expires_at = least(coalesce(expires_at, now()), now()),
                       tus_terminated_at = CASE WHEN tus_length IS NOT NULL
                                                THEN coalesce(tus_terminated_at, now()) END
     WHERE job_id = p_job AND stored_at IS NULL;
    UPDATE outbox o SET run_after = now()
      FROM uploads u
     WHERE u.job_id = p_job AND u.stored_at IS NULL AND o.kind = 'upload.expire'
       AND o.payload->>'upload_id' = u.id::text AND o.done_at IS NULL AND o.failed_at IS NULL;
    UPDATE jobs SET deleted_at = now(), updated_at = now() WHERE id = p_job
    RETURNING * INTO j;
    INSERT INTO outbox (kind, payload)
    VALUES ('job.delete', jsonb_build_object(
        'job_id', p_job,
        'not_before', extract(epoch FROM greatest(not_before, now()))));
    PERFORM mediagate_webhook_queue('job.deleted', 'job:' || p_job,
        mediagate_job_status_json(j)
        || jsonb_build_object('reason', p_reason,
                              'deleted_at', to_char(j.deleted_at AT TIME ZONE 'UTC',
                                                    'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
    RETURN QUERY SELECT 'deleted'::text, j.status;
END
$$;
