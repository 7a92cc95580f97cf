-- nginx-rtmp calls publish_done for every session that asked to publish,
-- also one it refused (a second publisher, a wrong key). Counting those
-- flipped a LIVE stream to IDLE mid-broadcast and took an open write off
-- (so the VOD could be made early). Each accepted publish now records
-- nginx-rtmp's clientid, and only those sessions' publish_done count.
ALTER TABLE streams ADD COLUMN publishers text[] NOT NULL DEFAULT '{}';
