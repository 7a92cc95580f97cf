-- The thumbnail.make task of each thumbnail (GET /media/thumbnail), so that
-- a request learns that the task died (its attempts spent, or its worker
-- kept dying) instead of waiting for a row that will never be made.
ALTER TABLE thumbnails ADD COLUMN task_id bigint;
