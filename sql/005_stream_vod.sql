-- A stopped stream's recording becomes a local VOD job: nginx-rtmp's
-- recordings (on_record_done) or the HLS segments a broadcaster PUT.

ALTER TABLE streams
    -- Someone published over RTMP (and so, when nginx-rtmp records, left a
    -- recording).
    ADD COLUMN published   boolean NOT NULL DEFAULT false,
    -- Publishes still being written: +1 on publish, -1 when its recording
    -- closes (record_done of a new file, or publish_done when nginx-rtmp
    -- does not record). A count, not a flag: callbacks of two publishes may
    -- arrive interleaved.
    ADD COLUMN open_writes integer NOT NULL DEFAULT 0 CHECK (open_writes >= 0),
    -- Recordings nginx-rtmp finished (on_record_done paths), in order.
    ADD COLUMN recordings  text[] NOT NULL DEFAULT '{}',
    -- The broadcaster was allowed to PUT at least one file.
    ADD COLUMN uploaded    boolean NOT NULL DEFAULT false,
    ADD COLUMN vod_job_id  text REFERENCES jobs (id) ON DELETE SET NULL;
