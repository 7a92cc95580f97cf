-- Tencent VOD ProcessMedia (worker task tencent.process_media): the task's
-- TaskId is kept on its job, written in the same transaction that finishes
-- the task. A job event may carry "backend_task_id"; the first one stays
-- (a retried start that Tencent deduplicated by SessionId reports none).
ALTER TABLE jobs ADD COLUMN backend_task_id text;

CREATE OR REPLACE FUNCTION mediagate_job_event(p_job text, ev jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    IF coalesce(ev->>'backend_task_id', '') <> '' THEN
        UPDATE jobs SET backend_task_id = coalesce(backend_task_id, ev->>'backend_task_id'),
                        updated_at = now()
         WHERE id = p_job;
    END IF;
    SELECT mediagate_apply_event(j.backend, (ev - 'backend_task_id')
                                 || jsonb_build_object('backend_job_id', j.backend_job_id))
      INTO r FROM jobs j WHERE j.id = p_job;
    RETURN r;
END
$$;
