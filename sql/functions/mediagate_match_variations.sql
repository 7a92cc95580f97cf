-- Zencoder: give each variation of a job the size of its matching output,
-- matched by format and width, else by format alone. A job that had none
-- (registered with POST /media/jobs, or created by mediagate) gets the
-- outputs themselves as its variations.
CREATE OR REPLACE FUNCTION mediagate_match_variations(vars jsonb, outs jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    o jsonb;
    i int;
    hit int;
BEGIN
    IF jsonb_typeof(outs) <> 'array' THEN
        RETURN vars;
    END IF;
    IF vars IS NULL OR vars = 'null'::jsonb OR vars = '[]'::jsonb THEN
        RETURN CASE WHEN jsonb_array_length(outs) = 0 THEN vars
                    ELSE (SELECT jsonb_agg(jsonb_strip_nulls(x) ORDER BY n)
                            FROM jsonb_array_elements(outs) WITH ORDINALITY AS e(x, n)) END;
    END IF;
    IF jsonb_typeof(vars) <> 'array' THEN
        RETURN vars;
    END IF;
    FOR o IN SELECT * FROM jsonb_array_elements(outs) LOOP
        hit := NULL;
        FOR i IN 0 .. jsonb_array_length(vars) - 1 LOOP
            IF vars->i->>'format' = o->>'format' AND vars->i->>'width' = o->>'width' THEN
                hit := i; EXIT;
            END IF;
        END LOOP;
        IF hit IS NULL THEN
            FOR i IN 0 .. jsonb_array_length(vars) - 1 LOOP
                IF vars->i->>'format' = o->>'format' THEN hit := i; EXIT; END IF;
            END LOOP;
        END IF;
        IF hit IS NOT NULL THEN
            vars := jsonb_set(vars, ARRAY[hit::text],
                              (vars->hit) || jsonb_strip_nulls(jsonb_build_object(
                                  'file_size_in_bytes', o->'file_size_in_bytes',
                                  'width', o->'width', 'height', o->'height',
                                  'url', o->'url')));
        END IF;
    END LOOP;
    RETURN vars;
END
$$;
