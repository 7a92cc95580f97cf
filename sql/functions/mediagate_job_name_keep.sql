-- A job's name (jobs.name): its title, else its upload's file name, else
-- its stream's name, else the input file's last part. On jobs (BEFORE:
-- the row's own name); on uploads and streams (AFTER: the job they name
-- is named again).
CREATE OR REPLACE FUNCTION mediagate_job_name_keep() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'uploads' THEN
        UPDATE jobs SET name = NULL WHERE id = NEW.job_id;
        RETURN NULL;
    ELSIF TG_TABLE_NAME = 'streams' THEN
        UPDATE jobs SET name = NULL WHERE id = NEW.vod_job_id;
        RETURN NULL;
    END IF;
    NEW.name := coalesce(NEW.title,
        (SELECT u.name FROM uploads u WHERE u.job_id = NEW.id),
        (SELECT nullif(s.name, '') FROM streams s WHERE s.vod_job_id = NEW.id
          ORDER BY s.start_date LIMIT 1),
        nullif(regexp_replace(NEW.input_file, '^.*/', ''), ''), NEW.input_file);
    RETURN NEW;
END
$$;
