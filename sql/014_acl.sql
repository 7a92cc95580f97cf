-- Who may see a job (app/acl.h): a local job's ACL, "E1,E2" of WORLD, CAM,
-- USER_<id>, GROUP_<id>, INST_<id>; NULL is WORLD. /media/status answers
-- a caller the ACL does not admit as it answers an unknown job.
ALTER TABLE jobs ADD COLUMN acl text
    CHECK (acl IS NULL OR acl ~ '^(WORLD|CAM|(USER|GROUP|INST)_[A-Za-z0-9._@-]{1,128})(,(WORLD|CAM|(USER|GROUP|INST)_[A-Za-z0-9._@-]{1,128}))*$');
