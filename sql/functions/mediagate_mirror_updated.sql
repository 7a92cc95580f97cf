-- A platform integer "updated" as a bigint: NULL when absent or not an integer.
CREATE OR REPLACE FUNCTION mediagate_mirror_updated(d jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN jsonb_typeof(d->'updated') = 'number' AND (d->>'updated') ~ '^-?[0-9]{1,18}$'
                THEN (d->>'updated')::bigint END
$$;
