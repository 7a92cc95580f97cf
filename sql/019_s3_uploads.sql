-- Uploads on S3 storage (MEDIAGATE_STORAGE=s3): the client PUTs the file
-- straight to the bucket through a presigned URL (or presigned part URLs
-- of a multipart upload), then asks mediagate to confirm it; the slot is
-- spent when mediagate has seen the object (its size and ETag), in one
-- transaction with its encode task.
ALTER TABLE uploads
    ADD COLUMN storage text NOT NULL DEFAULT 'local' CHECK (storage IN ('local', 's3')),
    -- s3: the exact size the presigned URLs sign (NULL: any up to max_bytes)
    ADD COLUMN declared_size bigint CHECK (declared_size > 0),
    -- s3: the bucket's multipart upload id (NULL: a single PUT)
    ADD COLUMN multipart_id text CHECK (octet_length(multipart_id) BETWEEN 1 AND 1024),
    -- s3: the ETag of the confirmed object; the encode reads exactly it
    ADD COLUMN etag text CHECK (octet_length(etag) BETWEEN 1 AND 200);
