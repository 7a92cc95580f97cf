-- When job NEW first goes PROGRESSING (inserted so, or updated to it):
-- progressing_at, from which an encoder's own limit on a running job
-- counts (the reconciler, app/worker/encoders.c). A time already given
-- stays.
CREATE OR REPLACE FUNCTION mediagate_job_progressing() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'PROGRESSING' AND NEW.progressing_at IS NULL THEN
        NEW.progressing_at := now();
    END IF;
    RETURN NEW;
END
$$;
