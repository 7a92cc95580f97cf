-- Which jobs were registered with their backend id (POST /media/jobs'
-- registration form): only such a job gives its backend id up to a job
-- mediagate created there (the encoder's answer or event says whose job
-- it is). A job mediagate created, or an event created, keeps its id.
-- Existing registrations: a uuid id, no profile, an id of its own.
ALTER TABLE jobs ADD COLUMN registered boolean NOT NULL DEFAULT false;
UPDATE jobs SET registered = true
 WHERE profile IS NULL AND backend IN ('zencoder', 'tencent', 'mediaconvert')
   AND id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
   AND id IS DISTINCT FROM backend_job_id;
