-- Upload by URL (handlers/upload_url.c, app/worker/fetch.c): a slot whose
-- file mediagate fetches itself from a URL the client gives, through the
-- outbound client, into the same storage as a PUT's. source_url is that
-- URL without its query and fragment (a presigned URL's signature stays in
-- the fetch task alone); NULL: not an upload by URL.
ALTER TABLE uploads
    ADD COLUMN source_url text CHECK (source_url IS NULL OR length(source_url) BETWEEN 1 AND 2048);

INSERT INTO task_kinds (name, max_attempts, timeout_s)
VALUES ('upload.fetch', 6, 0) ON CONFLICT (name) DO NOTHING;
