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
