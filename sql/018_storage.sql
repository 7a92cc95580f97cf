-- Where a job's outputs live: 'local' (MEDIAGATE_MEDIA_DIR/<job id>/) or
-- 's3' (the bucket's media/<job id>/). NULL: not ours to serve (a
-- provider's outputs are where the provider put them).
ALTER TABLE jobs ADD COLUMN storage text CHECK (storage IN ('local', 's3'));

UPDATE jobs SET storage = 'local'
 WHERE backend = 'local' AND status = 'COMPLETE' AND storage IS NULL;
