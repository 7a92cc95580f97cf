-- Language tag p_tag in the case BCP 47 calls canonical (the rule of
-- captions_language_canon in app/captions.c): the language lower case, a
-- script title case, a region upper case, the rest (and all after a
-- singleton) lower case. The captions table holds canonical tags only, so
-- tags differing in case are one language.
CREATE OR REPLACE FUNCTION mediagate_captions_language(p_tag text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(CASE WHEN i = 1 OR singleton THEN lower(t)
                           WHEN t ~ '^[A-Za-z]{4}$' THEN initcap(t)
                           WHEN t ~ '^([A-Za-z]{2}|[0-9]{3})$' THEN upper(t)
                           ELSE lower(t) END, '-' ORDER BY i)
      FROM (SELECT t, i, bool_or(i > 1 AND length(t) = 1) OVER (ORDER BY i) AS singleton
              FROM unnest(string_to_array(p_tag, '-')) WITH ORDINALITY AS s(t, i)) x
$$;
