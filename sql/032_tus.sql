-- Resumable uploads (tus 1.0, handlers/tus.c, app/uploads/tus.h): an
-- upload row whose file comes in chunks. tus_length NULL: not a tus upload.
ALTER TABLE uploads
    ADD COLUMN tus_length bigint CHECK (tus_length >= 0),
    ADD COLUMN tus_offset bigint NOT NULL DEFAULT 0 CHECK (tus_offset >= 0),
    ADD COLUMN tus_metadata text,           -- Upload-Metadata as the client sent it
    -- s3: parts 1..tus_parts are in the multipart upload (multipart_id);
    -- the bytes after them are the object tus_tail_key (NULL: none).
    ADD COLUMN tus_parts integer NOT NULL DEFAULT 0 CHECK (tus_parts >= 0),
    ADD COLUMN tus_tail_key text,
    ADD COLUMN tus_tail_bytes bigint NOT NULL DEFAULT 0 CHECK (tus_tail_bytes >= 0),
    ADD CONSTRAINT uploads_tus_offset CHECK (tus_length IS NULL OR tus_offset <= tus_length);
