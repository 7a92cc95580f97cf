-- After a job becomes COMPLETE: the captions given while it was encoding
-- are published (sql/041_captions.sql).
CREATE OR REPLACE FUNCTION mediagate_captions_complete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM captions WHERE job_id = NEW.id) THEN
        PERFORM mediagate_captions_queue(NEW.id);
    END IF;
    RETURN NULL;
END
$$;
