-- The job an upload's or a stream's row names (NEW.job_id, NEW.vod_job_id)
-- is owned by the row's owner, unless it has one already.
CREATE OR REPLACE FUNCTION mediagate_job_owner() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'uploads' THEN
        UPDATE jobs SET owner = NEW.owner WHERE id = NEW.job_id AND owner IS NULL;
    ELSE
        UPDATE jobs SET owner = NEW.owner WHERE id = NEW.vod_job_id AND owner IS NULL;
    END IF;
    RETURN NULL;
END
$$;
