-- Uploads made with a profile (app/profile.h): the profile as it was when
-- the slot was made (profile_json, with its name) and the task kind that
-- starts its encode (the encoder's create kind), both written with the
-- slot and read when its file arrives. NULL: the local encoder with
-- MEDIAGATE_RENDITIONS, as before profiles.
ALTER TABLE uploads ADD COLUMN profile jsonb
    CHECK (profile IS NULL OR jsonb_typeof(profile) = 'object');
ALTER TABLE uploads ADD COLUMN encode_kind text;
