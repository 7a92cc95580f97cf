-- Uploads handed to a platform (app/uploads/tencent.c, app/uploads/mux.c):
-- the id the platform gave the upload (a Mux direct upload's), so that the
-- slot's expiry cancels it there. NULL: none (yet), or a platform with no
-- id of its own (Tencent's signature).
ALTER TABLE uploads
    ADD COLUMN platform_upload_id text
        CHECK (platform_upload_id IS NULL
               OR (target IS NOT NULL AND length(platform_upload_id) BETWEEN 1 AND 200));
