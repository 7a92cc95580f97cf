-- t as RFC 3339 in UTC, to the second ("2026-12-07T18:46:08Z"); NULL stays NULL.
CREATE OR REPLACE FUNCTION mediagate_rfc3339(t timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;
