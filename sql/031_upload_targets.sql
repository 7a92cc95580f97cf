-- Upload targets (app/uploads/target.h): where a new upload's file goes.
-- An upload row's target is NULL for the storage's own (local or s3, as
-- its storage column says), or the platform it was handed to.
ALTER TABLE uploads
    ADD COLUMN target text CHECK (target IN ('tencent', 'mux', 'jwplatform'));
-- The targets an API key may upload to (mediagate apikey create --targets);
-- NULL: any configured one.
ALTER TABLE api_keys
    ADD COLUMN targets text[] CHECK (targets IS NULL OR cardinality(targets) > 0);
