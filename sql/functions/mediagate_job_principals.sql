-- The principals that list a job (job_readers): its owner ("key:<id>",
-- "user:<name>") and each USER_, GROUP_ and INST_ entry of its ACL; a JW
-- Platform video's ACL is the platform's (app/db.c's JW_ACL, not
-- jobs.acl), so such a video is listed to its owner only, and read by id
-- by whoever its platform ACL admits.
CREATE OR REPLACE FUNCTION mediagate_job_principals(p_owner text, p_acl text, p_backend text)
RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
    SELECT DISTINCT p FROM (
        SELECT p_owner AS p
        UNION ALL
        SELECT e FROM unnest(string_to_array(p_acl, ',')) e
         WHERE e ~ '^(USER|GROUP|INST)_.' AND p_backend IS DISTINCT FROM 'jwplatform'
    ) s WHERE p IS NOT NULL
$$;
