-- /media/job_id looks a job up by its input_file. A btree entry holds at
-- most about 2.7 kB, so an index on the text itself refused a longer
-- input_file (every delivery of such an event was a 500). Index its MD5
-- instead (collisions cost nothing: the query compares the text too); the
-- lookup stays one index probe.
DROP INDEX jobs_input_file_latest;
CREATE INDEX jobs_input_file_latest ON jobs (md5(input_file), created_at DESC, id DESC);
