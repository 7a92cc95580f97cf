/* mediagate profiles list | show NAME | add NAME --encoder E FILE|- |
 * remove NAME: the encode profiles (sql/022_encoders.sql, app/profile.h).
 * A profile is written only once profile_parse and its encoder's row
 * (app/encoders/) accept it; the shipped ones (shipped[] below) are
 * written by mediagate migrate and may not be replaced or removed. */
#include "cli/cli.h"

#include <json-c/json.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/sql.h"
#include "config.h"
#include "encoders/encoder.h"
#include "profile.h"
#include "request.h"

/* A spec file's most bytes. */
#define SPEC_MAX (64 * 1024)

/* The profiles mediagate ships: default, the local encoder's ladder of
 * before profiles (MEDIAGATE_RENDITIONS' heights, 4 kbps a line of video,
 * 128 kbps of audio, HLS). */
typedef struct shipped_profile {
    const char *name;
    const char *encoder;
} shipped_profile;

static const shipped_profile shipped[] = {
    {"default", "local"},
};

/* The spec text of p as stored: profile_json without the name (the row's
 * own column), in a string the caller frees. */
static char *spec_text(const profile *p)
{
    json_object *o = profile_json(p);
    json_object_object_del(o, "name");
    char *s = strdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

/* Shipped profile sp as this configuration makes it, into p. Returns 0, or
 * -1 with why in err. */
static int shipped_build(const config *cfg, const shipped_profile *sp, profile *p, char *err,
                         size_t errcap)
{
    json_object *spec = json_object_new_object(), *rl = json_object_new_array();
    json_object_object_add(spec, "encoder", json_object_new_string(sp->encoder));
    json_object_object_add(spec, "renditions", rl);
    int seen[PROFILE_MAX_RENDITIONS], n = 0;
    char hl[256];
    snprintf(hl, sizeof hl, "%s", cfg->renditions ? cfg->renditions : "720,480,360");
    for (char *save = NULL, *t = strtok_r(hl, ",", &save); t && n < PROFILE_MAX_RENDITIONS;
         t = strtok_r(NULL, ",", &save)) {
        int h = atoi(t) & ~1, dup = 0;
        for (int i = 0; i < n; i++)
            dup |= seen[i] == h;
        if (dup || h < 16)
            continue;
        seen[n++] = h;
        json_object *ro = json_object_new_object();
        json_object_object_add(ro, "height", json_object_new_int(h));
        json_object_object_add(ro, "video_kbps", json_object_new_int(h * 4));
        json_object_object_add(ro, "audio_kbps", json_object_new_int(128));
        json_object_array_add(rl, ro);
    }
    int ret = profile_parse(sp->name, spec, p, err, errcap);
    json_object_put(spec);
    return ret;
}

int cli_profiles_ship(const config *cfg)
{
    int ret = 1;
    db d;
    PGresult *res = NULL;
    char *text = NULL;
    cli_db_init(&d, cfg);
    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
        profile p;
        char err[256];
        const encoder *row = encoder_find(shipped[i].encoder);
        if (shipped_build(cfg, &shipped[i], &p, err, sizeof err) != 0 ||
            (row && row->check && row->check(cfg, &p, err, sizeof err) != 0)) {
            fprintf(stderr, "mediagate migrate: profile %s: %s\n", shipped[i].name, err);
            goto out;
        }
        free(text);
        PQclear(res);
        res = NULL;
        if (!(text = spec_text(&p)))
            goto out;
        const char *vals[] = {p.name, p.encoder, text};
        if (cli_exec(&d, "migrate: profiles", C_PROFILE_SHIP, 3, vals, &res) != 0)
            goto out;
        if (PQntuples(res) == 1)
            printf("profile %s written\n", p.name);
    }
    ret = 0;
out:
    free(text);
    PQclear(res);
    db_close(&d);
    return ret;
}

static int list(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    if (argc != 0)
        return CLI_EUSAGE;
    PGresult *res = cli_query(cfg, "profiles list", C_PROFILES_LIST, 0, NULL);
    if (!res)
        goto out;
    printf("%-24s %-13s %-8s %-10s %s\n", "name", "encoder", "shipped", "packaging", "renditions");
    for (int i = 0; i < PQntuples(res); i++) {
        cli_put_clean(stdout, PQgetvalue(res, i, 0), NULL, 24);
        putchar(' ');
        cli_put_clean(stdout, PQgetvalue(res, i, 1), NULL, 13);
        printf(" %-8s ", PQgetvalue(res, i, 2));
        cli_put_clean(stdout, PQgetvalue(res, i, 3), NULL, 10);
        putchar(' ');
        cli_put_clean(stdout, PQgetvalue(res, i, 4), NULL, 0);
        putchar('\n');
    }
    ret = 0;
out:
    PQclear(res);
    return ret;
}

/* Prints the spec of profile argv[0] as JSON, the form add reads. */
static int show(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    PGresult *res = NULL;
    json_object *o = NULL;
    if (argc != 1)
        return CLI_EUSAGE;
    if (!profile_name_ok(argv[0])) {
        fprintf(stderr, "mediagate: no profile is named so (a name is 1 to 63 of a-z 0-9 . _ -)\n");
        return 1;
    }
    const char *vals[] = {argv[0]};
    if (!(res = cli_query(cfg, "profiles show", C_PROFILE_SHOW, 1, vals)))
        goto out;
    if (PQntuples(res) != 1) {
        fprintf(stderr, "mediagate: no profile %s\n", argv[0]);
        goto out;
    }
    o = json_tokener_parse(PQgetvalue(res, 0, 0));
    printf("%s\n",
           json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
    ret = 0;
out:
    json_object_put(o);
    PQclear(res);
    return ret;
}

/* The whole of path ("-": stdin), at most SPEC_MAX bytes, in a string the
 * caller frees, its length in *len; NULL having said why. */
static char *read_spec(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *buf = NULL;
    if (!f) {
        fprintf(stderr, "mediagate: profiles add: cannot open %s\n", path);
        return NULL;
    }
    if (!(buf = malloc(SPEC_MAX + 1)))
        goto out;
    *len = fread(buf, 1, SPEC_MAX + 1, f);
    if (ferror(f) || *len > SPEC_MAX) {
        fprintf(stderr, "mediagate: profiles add: %s: %s\n", path,
                ferror(f) ? "read error" : "longer than 64 KiB");
        free(buf);
        buf = NULL;
        goto out;
    }
    buf[*len] = '\0';
out:
    if (f != stdin)
        fclose(f);
    return buf;
}

/* Reads, checks and writes profile argv[0]: the spec in FILE (or stdin),
 * its encoder from --encoder (the spec's own "encoder" must agree). Exit
 * 2 for a refused name or spec, before the database. */
static int add(const config *cfg, int argc, char **argv)
{
    int ret = 2;
    const char *name = NULL, *enc = NULL, *path = NULL, *why = NULL;
    char *buf = NULL, *text = NULL, err[256];
    json_object *spec = NULL;
    PGresult *res = NULL;
    profile p;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--encoder") == 0 && i + 1 < argc && !enc)
            enc = argv[++i];
        else if (!name)
            name = argv[i];
        else if (!path)
            path = argv[i];
        else
            return CLI_EUSAGE;
    }
    if (!name || !path || !enc)
        return CLI_EUSAGE;
    if (!profile_name_ok(name)) {
        fputs("mediagate: profiles add: the name '", stderr);
        cli_put_clean(stderr, name, NULL, 0);
        fputs("' is refused: a name is 1 to 63 of a-z 0-9 . _ -, starting with a letter or "
              "a digit\n",
              stderr);
        return 2;
    }
    size_t len = 0;
    if (!(buf = read_spec(path, &len)))
        goto out;
    if (!(spec = parse_json(buf, len, &why)) || !json_object_is_type(spec, json_type_object)) {
        fprintf(stderr, "mediagate: profiles add: %s: %s\n", path,
                why ? why : "a profile is a JSON object");
        goto out;
    }
    json_object *have;
    if (!json_object_object_get_ex(spec, "encoder", &have))
        json_object_object_add(spec, "encoder", json_object_new_string(enc));
    else if (!json_object_is_type(have, json_type_string) ||
             strcmp(json_object_get_string(have), enc) != 0) {
        fprintf(stderr, "mediagate: profiles add: the spec's encoder is not --encoder %s\n", enc);
        goto out;
    }
    const encoder *row = encoder_find(enc);
    if (profile_parse(name, spec, &p, err, sizeof err) != 0 ||
        (row && row->check && row->check(cfg, &p, err, sizeof err) != 0)) {
        fputs("mediagate: profiles add: ", stderr);
        cli_put_clean(stderr, err, NULL, 0);
        fputc('\n', stderr);
        goto out;
    }
    ret = 1;
    if (!(text = spec_text(&p)))
        goto out;
    const char *vals[] = {p.name, p.encoder, text};
    if (!(res = cli_query(cfg, "profiles add", C_PROFILE_ADD, 3, vals)))
        goto out;
    if (PQntuples(res) != 1) {
        fprintf(stderr, "mediagate: profiles add: %s is a shipped profile; name yours otherwise\n",
                p.name);
        goto out;
    }
    printf("profile %s %s\n", p.name,
           strcmp(PQgetvalue(res, 0, 0), "t") == 0 ? "added" : "replaced");
    ret = 0;
out:
    PQclear(res);
    json_object_put(spec);
    free(text);
    free(buf);
    return ret;
}

static int remove_profile(const config *cfg, int argc, char **argv)
{
    int ret = 1;
    if (argc != 1)
        return CLI_EUSAGE;
    const char *vals[] = {argv[0]};
    PGresult *res = profile_name_ok(argv[0])
                        ? cli_query(cfg, "profiles remove", C_PROFILE_REMOVE, 1, vals)
                        : NULL;
    if (!res) {
        if (!profile_name_ok(argv[0]))
            fprintf(stderr, "mediagate: no profile is named so\n");
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "1") == 0) {
        printf("profile %s removed\n", argv[0]);
        ret = 0;
    } else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
        fprintf(stderr, "mediagate: profile %s is shipped with mediagate: it stays\n", argv[0]);
    } else if (!PQgetisnull(res, 0, 2)) {
        fprintf(stderr,
                "mediagate: profile %s stays: API keys limited to it: %s (mediagate apikey "
                "revoke ID first)\n",
                argv[0], PQgetvalue(res, 0, 2));
    } else {
        fprintf(stderr, "mediagate: no profile %s\n", argv[0]);
    }
out:
    PQclear(res);
    return ret;
}

// clang-format off
const cli_command cli_profiles_commands[] = {
    {.name = "list", .needs_config = true, .fn = list, .args = "",
     .usage = "every profile: encoder, shipped, packaging, renditions\n"},
    {.name = "show", .needs_config = true, .fn = show, .args = "NAME",
     .usage = "print profile NAME's spec, as JSON that add reads\n"},
    {.name = "add", .needs_config = true, .fn = add, .args = "NAME --encoder E FILE|-",
     .usage = "add or replace profile NAME from the JSON spec in FILE\n"
              "FILE - reads stdin. The spec: {\"renditions\": [{\"height\": 720,\n"
              "\"video_kbps\": 2800, \"codec\": \"h264\", \"audio_kbps\": 128}, ...],\n"
              "\"packaging\": [\"hls\"]}; E is the encoder it runs on (local, mediaconvert,\n"
              "zencoder, mux, tencent). It is written only when encoder E can honour\n"
              "every rendition and packaging; otherwise the reason goes to stderr and\n"
              "the exit status is 2. NAME is 1 to 63 of a-z 0-9 . _ - (starting with a\n"
              "letter or a digit); a shipped profile's name is refused. Jobs made\n"
              "earlier keep the profile as it was.\n"},
    {.name = "remove", .needs_config = true, .fn = remove_profile, .args = "NAME",
     .usage = "remove profile NAME (not a shipped one)\n"
              "Jobs made with it keep it as it was. While an API key that is not revoked\n"
              "is limited to it (apikey create --profiles), it stays: exit 1 naming the\n"
              "keys.\n"},
    {.name = NULL},
};
// clang-format on
