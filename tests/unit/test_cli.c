/* Unit tests for app/cli/commands.c: the command table is complete and
 * unambiguous, and --help or -h at any level prints usage to stdout and
 * never loads the configuration or runs a command. The .c is included to
 * reach its statics (h2o t/00unit style). */
#include "../../app/cli/commands.c"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "check.h"

static int loads;

/* Stands in for main.c's loader: counts, and refuses, so that a command
 * that got past it by mistake would not reach the database either. */
static int fake_load(config *c, const char *path, bool local_stack)
{
    loads++;
    return 1;
}

/* Runs cli_run on words with stdout and stderr captured into out and err
 * (each holds at most cap bytes). Returns cli_run's result. run() uses the
 * refusing loader. */
static int run_with(const cli_command *root, int argc, char **argv, cli_load_fn *load,
                    char *out, char *err, size_t cap)
{
    fflush(stdout);
    fflush(stderr);
    FILE *o = tmpfile(), *e = tmpfile();
    int so = dup(1), se = dup(2);
    dup2(fileno(o), 1);
    dup2(fileno(e), 2);
    int ret = cli_run(root, argc, argv, NULL, load);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    size_t n;
    rewind(o);
    n = fread(out, 1, cap - 1, o);
    out[n] = 0;
    rewind(e);
    n = fread(err, 1, cap - 1, e);
    err[n] = 0;
    fclose(o);
    fclose(e);
    return ret;
}

static int run(const cli_command *root, int argc, char **argv, char *out, char *err, size_t cap)
{
    return run_with(root, argc, argv, fake_load, out, err, cap);
}

/* The usage print_usage gives for p, in a buffer the caller frees. */
static char *usage_of(const cli_path *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    print_usage(m, p);
    fclose(m);
    return buf;
}

static char out[65536], err[65536];

/* Checks one row (and, below it, every subcommand) at path p. */
static void check_row(cli_path *p)
{
    const cli_command *c = last(p);
    char name[128] = "";
    for (int i = 1; i < p->n; i++)
        snprintf(name + strlen(name), sizeof name - strlen(name), "%s%s", i > 1 ? " " : "",
                 p->row[i]->name);

    if (!CHECK(c->usage && *c->usage && c->usage[0] != '\n'))
        fprintf(stderr, "  '%s' has no usage\n", name);
    if (!CHECK(c->fn != NULL || c->subs != NULL))
        fprintf(stderr, "  '%s' runs nothing\n", name);
    if (c->subs) {
        CHECK(c->args == NULL);
        if (c->default_sub && !CHECK(cli_lookup(c->subs, c->default_sub) != NULL))
            fprintf(stderr, "  '%s' defaults to missing '%s'\n", name, c->default_sub);
    } else {
        CHECK(c->args != NULL);
        CHECK(c->default_sub == NULL);
    }

    /* Usage lines fit a terminal, and the usage names the command. */
    char *u = usage_of(p);
    for (char *line = u, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (!CHECK(len <= 80))
            fprintf(stderr, "  '%s' usage line: %.*s\n", name, (int)len, line);
    }
    char synopsis[160];
    snprintf(synopsis, sizeof synopsis, "usage: mediagate%s%s%s",
             c->needs_config ? " [--config FILE]" : "", *name ? " " : "", name);
    if (!CHECK(strncmp(u, synopsis, strlen(synopsis)) == 0))
        fprintf(stderr, "  '%s' usage starts: %.60s\n", name, u);

    /* --help and -h, right after the command and after an argument, print
     * exactly that usage to stdout, load nothing and run nothing. */
    static const char *const helps[][2] = {{"--help", NULL}, {"-h", NULL}, {"x", "--help"}};
    for (size_t h = 0; h < sizeof helps / sizeof helps[0]; h++) {
        char *argv[8];
        int argc = 0;
        for (int i = 1; i < p->n; i++)
            argv[argc++] = (char *)p->row[i]->name;
        for (int i = 0; i < 2 && helps[h][i]; i++)
            argv[argc++] = (char *)helps[h][i];
        loads = 0;
        int ret = run(&cli_root, argc, argv, out, err, sizeof out);
        if (!CHECK_INT(ret, 0) + !CHECK_INT(loads, 0) + !CHECK_STR(out, u) + !CHECK_STR(err, ""))
            fprintf(stderr, "  for '%s %s%s%s'\n", name, helps[h][0], helps[h][1] ? " " : "",
                    helps[h][1] ? helps[h][1] : "");
    }
    free(u);

    if (!c->subs)
        return;
    CHECK(p->n < CLI_DEPTH);
    for (const cli_command *s = c->subs; s->name; s++) {
        /* Names (and aliases) are unique in their table, and found. */
        CHECK(cli_lookup(c->subs, s->name) == s);
        if (s->alias)
            CHECK(cli_lookup(c->subs, s->alias) == s);
        for (const cli_command *t = s + 1; t->name; t++) {
            if (!CHECK(strcmp(s->name, t->name) != 0))
                fprintf(stderr, "  '%s %s' twice\n", name, s->name);
            CHECK(!t->alias || strcmp(s->name, t->alias) != 0);
            CHECK(!s->alias || strcmp(s->alias, t->name) != 0);
        }
        /* Every command is listed in its parent's usage. */
        char *pu = usage_of(p), row[64];
        snprintf(row, sizeof row, "\n  %s", s->name);
        if (!CHECK(strstr(pu, row) != NULL))
            fprintf(stderr, "  '%s' is not listed under '%s'\n", s->name, name);
        free(pu);
        p->row[p->n++] = s;
        check_row(p);
        p->n--;
    }
}

/* Every row, from the real table. */
static void test_table(void)
{
    cli_path p = {.row = {&cli_root}, .n = 1};
    CHECK(cli_root.subs != NULL);
    check_row(&p);

    static const char *const expected[] = {
        "serve", "migrate", "check-config", "worker", "submit", "apikey", "notifications",
        "tasks", "jobs", "settings", "version", "help", "--version"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (!CHECK(cli_lookup(cli_root.subs, expected[i]) != NULL))
            fprintf(stderr, "  no command %s\n", expected[i]);
    const char *subs[][2] = {{"apikey", "create"}, {"apikey", "list"}, {"apikey", "revoke"},
                             {"notifications", "list"}, {"notifications", "show"},
                             {"notifications", "replay"}, {"tasks", "list"}, {"tasks", "show"},
                             {"tasks", "retry"}, {"tasks", "cancel"}, {"jobs", "list"},
                             {"jobs", "show"}};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        const cli_command *g = cli_lookup(cli_root.subs, subs[i][0]);
        if (!CHECK(g && cli_lookup(g->subs, subs[i][1])))
            fprintf(stderr, "  no command %s %s\n", subs[i][0], subs[i][1]);
    }
    /* Only the commands that never touch the database skip the config. */
    for (const cli_command *c = cli_root.subs; c->name; c++) {
        bool local = strcmp(c->name, "settings") == 0 || strcmp(c->name, "version") == 0 ||
                     strcmp(c->name, "help") == 0 || strcmp(c->name, "man") == 0;
        CHECK(c->needs_config == !local);
    }
}

/* The real table: the daemons and migrate stop at the (refused) config,
 * and unknown words are usage errors that load nothing. */
static void test_real_dispatch(void)
{
    char *worker[] = {"worker"}, *migrate[] = {"migrate"}, *none[] = {NULL};
    loads = 0;
    CHECK_INT(run(&cli_root, 1, worker, out, err, sizeof out), 1);
    CHECK_INT(loads, 1);
    CHECK_HAS(err, "not starting until the configuration is fixed");
    loads = 0;
    CHECK_INT(run(&cli_root, 1, migrate, out, err, sizeof out), 1);
    CHECK_INT(loads, 1);

    char *check[] = {"check-config"};
    CHECK_INT(run(&cli_root, 1, check, out, err, sizeof out), 1);
    CHECK_LACKS(err, "not starting");

    loads = 0;
    CHECK_INT(run(&cli_root, 0, none, out, err, sizeof out), 2);
    CHECK_STR(out, "");
    CHECK_HAS(err, "usage: mediagate [--config FILE] COMMAND");
    char *bogus[] = {"bogus"}, *tbogus[] = {"tasks", "bogus"}, *abare[] = {"apikey"};
    CHECK_INT(run(&cli_root, 1, bogus, out, err, sizeof out), 2);
    CHECK_HAS(err, "unknown command 'bogus'");
    CHECK_STR(out, "");
    CHECK_INT(run(&cli_root, 2, tbogus, out, err, sizeof out), 2);
    CHECK_HAS(err, "unknown command 'tasks bogus'");
    CHECK_HAS(err, "usage: mediagate [--config FILE] tasks [COMMAND]");
    CHECK_INT(run(&cli_root, 1, abare, out, err, sizeof out), 2);
    CHECK_HAS(err, "usage: mediagate [--config FILE] apikey COMMAND");
    CHECK_INT(loads, 0);

    char *version[] = {"--version"}, *help[] = {"help", "tasks", "retry"};
    CHECK_INT(run(&cli_root, 1, version, out, err, sizeof out), 0);
    CHECK_STR(out, "mediagate " MEDIAGATE_VERSION "\n");
    CHECK_INT(run(&cli_root, 3, help, out, err, sizeof out), 0);
    CHECK_HAS(out, "usage: mediagate [--config FILE] tasks retry ID");
    CHECK_HAS(out, "MEDIAGATE_CACHE_MAX_AGE");
    char *hbogus[] = {"help", "nope"};
    CHECK_INT(run(&cli_root, 2, hbogus, out, err, sizeof out), 2);
    CHECK_STR(out, "");
    CHECK_INT(loads, 0);
}

/* A table of counting commands: help never calls fn, a plain call does,
 * with the arguments after the command's name, and CLI_EUSAGE is exit 2. */
static int calls, last_argc;
static const char *last_arg;
static int counting(const config *cfg, int argc, char **argv)
{
    calls++;
    last_argc = argc;
    last_arg = argc ? argv[0] : NULL;
    return cfg ? 7 : 5;
}
static int wants_one(const config *cfg, int argc, char **argv)
{
    calls++;
    return argc == 1 ? 0 : CLI_EUSAGE;
}
static int ok_load(config *c, const char *path, bool local_stack)
{
    loads++;
    return 0;
}

static const cli_command fake_subs[] = {
    {.name = "list", .needs_config = true, .fn = counting, .args = "", .usage = "list\n"},
    {.name = "one", .needs_config = true, .fn = wants_one, .args = "X", .usage = "one X\n"},
    {.name = NULL},
};
static const cli_command fake_cmds[] = {
    {.name = "local", .fn = counting, .args = "", .usage = "no config\n"},
    {.name = "group", .needs_config = true, .subs = fake_subs, .default_sub = "list",
     .usage = "a group\n"},
    {.name = NULL},
};
static const cli_command fake_root = {.name = "mediagate", .subs = fake_cmds, .usage = "t\n"};

static void test_fake_dispatch(void)
{
    static char *helped[][4] = {
        {"--help"}, {"-h"}, {"local", "--help"}, {"local", "a", "-h"}, {"group", "-h"},
        {"group", "list", "--help"}, {"group", "one", "--help"}, {"group", "one", "X", "-h"},
        {"group", "nope", "--help"}, {"nope", "--help"}};
    for (size_t i = 0; i < sizeof helped / sizeof helped[0]; i++) {
        int argc = 0;
        while (argc < 4 && helped[i][argc])
            argc++;
        calls = loads = 0;
        int ret = run_with(&fake_root, argc, helped[i], ok_load, out, err, sizeof out);
        if (!CHECK_INT(ret, 0) + !CHECK_INT(calls, 0) + !CHECK_INT(loads, 0) +
            !CHECK_HAS(out, "usage: mediagate"))
            fprintf(stderr, "  for help case %zu\n", i);
    }

    char *local[] = {"local", "a"}, *group[] = {"group"}, *list[] = {"group", "list", "b"};
    calls = loads = 0;
    CHECK_INT(cli_run(&fake_root, 2, local, NULL, ok_load), 5); /* cfg NULL */
    CHECK_INT(calls, 1);
    CHECK_INT(loads, 0);
    CHECK_INT(last_argc, 1);
    CHECK_STR(last_arg, "a");
    CHECK_INT(cli_run(&fake_root, 1, group, NULL, ok_load), 7); /* default sub, cfg set */
    CHECK_INT(calls, 2);
    CHECK_INT(loads, 1);
    CHECK_INT(last_argc, 0);
    CHECK_INT(cli_run(&fake_root, 3, list, NULL, ok_load), 7);
    CHECK_INT(last_argc, 1);
    CHECK_STR(last_arg, "b");

    char *one[] = {"group", "one"};
    calls = 0;
    CHECK_INT(run_with(&fake_root, 2, one, ok_load, out, err, sizeof out), 2);
    CHECK_INT(calls, 1);
    CHECK_HAS(err, "usage: mediagate [--config FILE] group one X");
    CHECK_STR(out, "");
}

static void test_parse_bigint(void)
{
    char id[24];
    CHECK(cli_parse_bigint("task", "42", id));
    CHECK_STR(id, "42");
    CHECK(cli_parse_bigint("task", "+007", id));
    CHECK_STR(id, "7");
    CHECK(cli_parse_bigint("task", "9223372036854775807", id));
    static const char *bad[] = {"", "x", "1x", " 1", "1 ", "9223372036854775808", "-", "0x10",
                                "1.5", "1e3"};
    fflush(stderr);
    int se = dup(2), devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (!CHECK(!cli_parse_bigint("task", bad[i], id)))
            fprintf(stdout, "  accepted '%s'\n", bad[i]);
    fflush(stderr);
    dup2(se, 2);
    close(se);
    close(devnull);
}

/* write path with text, mode 0644 */
static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    chmod(path, 0644);
}

/* The local stack's var/env: read only when nobody else could have written
 * it or a directory above it, and never through a symlink. */
static void test_local_stack(void)
{
    char t[] = "/tmp/mg-test-cli.XXXXXX", exe[512], env[512], var[512], other[512];
    char path[512], why[512], *url;
    if (!mkdtemp(t)) {
        CHECK(!"mkdtemp");
        return;
    }
    snprintf(exe, sizeof exe, "%s/build", t);
    mkdir(exe, 0755);
    snprintf(exe, sizeof exe, "%s/build/mediagate", t);
    put_file(exe, "");
    snprintf(var, sizeof var, "%s/var", t);
    snprintf(env, sizeof env, "%s/var/env", t);
    snprintf(other, sizeof other, "%s/other", t);

    url = cli_local_stack_url(exe, path, sizeof path, why, sizeof why);
    CHECK(url == NULL && why[0] == '\0'); /* no local stack: nothing to say */
    mkdir(var, 0755);
    put_file(env, "# scripts/up\nexport MEDIAGATE_DATABASE_URL='postgresql:///mediagate?host=/x&user=m'\n");
    url = cli_local_stack_url(exe, path, sizeof path, why, sizeof why);
    CHECK_STR(url, "postgresql:///mediagate?host=/x&user=m");
    CHECK_STR(path, env);
    free(url);

    chmod(env, 0664);
    url = cli_local_stack_url(exe, path, sizeof path, why, sizeof why);
    CHECK(url == NULL && strstr(why, "writable by its group"));
    chmod(env, 0644);
    chmod(var, 0777);
    url = cli_local_stack_url(exe, path, sizeof path, why, sizeof why);
    CHECK(url == NULL && strstr(why, "writable by everyone"));
    chmod(var, 01777); /* sticky: its entries are their owners' */
    url = cli_local_stack_url(exe, path, sizeof path, why, sizeof why);
    CHECK(url != NULL);
    free(url);
    chmod(var, 0755);
    if (geteuid() == 0) {
        CHECK(chown(env, 65534, 65534) == 0);
        url = cli_local_stack_url(exe, path, sizeof path, why, sizeof why);
        CHECK(url == NULL && strstr(why, "belongs to uid 65534"));
        CHECK(chown(env, 0, 0) == 0);
        CHECK(chown(t, 65534, 65534) == 0);
        url = cli_local_stack_url(exe, path, sizeof path, why, sizeof why);
        CHECK(url == NULL && strstr(why, "belongs to uid 65534"));
        CHECK(chown(t, 0, 0) == 0);
    }
    /* symlinks: env to another file, var to another directory */
    CHECK(rename(env, other) == 0);
    CHECK(symlink(other, env) == 0);
    url = cli_local_stack_url(exe, path, sizeof path, why, sizeof why);
    CHECK(url == NULL && strstr(why, "not a regular file"));
    unlink(env);
    char var2[520];
    snprintf(var2, sizeof var2, "%s2", var);
    CHECK(rename(var, var2) == 0);
    CHECK(symlink("var2", var) == 0);
    snprintf(env, sizeof env, "%s/var2/env", t);
    CHECK(rename(other, env) == 0);
    url = cli_local_stack_url(exe, path, sizeof path, why, sizeof why);
    CHECK(url == NULL && strstr(why, "not a directory"));
    unlink(var);
    CHECK(rename(var2, var) == 0);
    snprintf(env, sizeof env, "%s/var/env", t);
    put_file(env, "export MEDIAGATE_DATABASE_URL=unquoted\n");
    url = cli_local_stack_url(exe, path, sizeof path, why, sizeof why);
    CHECK(url == NULL && strstr(why, "names no MEDIAGATE_DATABASE_URL"));

    unlink(env);
    rmdir(var);
    unlink(exe);
    snprintf(exe, sizeof exe, "%s/build", t);
    rmdir(exe);
    CHECK(rmdir(t) == 0);
}

/* cli_put_clean into a buffer. */
static const char *cleaned(const char *s, const char *indent, int width)
{
    static char buf[256];
    FILE *m = fmemopen(buf, sizeof buf, "w");
    cli_put_clean(m, s, indent, width);
    fclose(m);
    return buf;
}

/* What reaches a terminal from a value: nothing it would act on (C0, DEL,
 * C1, bytes that are not UTF-8), on one line when indent is NULL. */
static void test_put_clean(void)
{
    CHECK_STR(cleaned("evil\x1b[2J\x1b]0;t\x07x", NULL, 0), "evil?[2J?]0;t?x");
    CHECK_STR(cleaned("two\nlines\r\n", NULL, 0), "two?lines");
    CHECK_STR(cleaned("two\nlines", "  ", 0), "two\n  lines");
    CHECK_STR(cleaned("c1\xc2\x9b" "31m\x7f", NULL, 0), "c1?31m?");
    CHECK_STR(cleaned("bad\xff\xc3(\xe2\x82", NULL, 0), "bad?" "?(?" "?");
    CHECK_STR(cleaned("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac" "!", NULL, 0),
              "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac" "!");
    CHECK_STR(cleaned("a\tb", NULL, 0), "a b");
    CHECK_STR(cleaned("caf\xc3\xa9", NULL, 6), "caf\xc3\xa9  "); /* pads characters */
}

/* apikey create refuses a name outside the ACL id alphabet before it
 * reaches the database (the loader gives a config with no database). */
static void test_apikey_names(void)
{
    static char *bad[] = {"evil\x1b[2J", "a\nb", "a b", "", "USER_a,GROUP_b", "caf\xc3\xa9",
                          NULL};
    char longname[ACL_ID_MAX + 2];
    memset(longname, 'x', ACL_ID_MAX + 1);
    longname[ACL_ID_MAX + 1] = '\0';
    bad[sizeof bad / sizeof bad[0] - 1] = longname;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {"apikey", "create", bad[i]};
        if (!CHECK_INT(run_with(&cli_root, 3, argv, ok_load, out, err, sizeof out), 2) +
            !CHECK_HAS(err, "1 to 128 of A-Z a-z 0-9 . _ @ -") + !CHECK_LACKS(err, "\x1b") +
            !CHECK_STR(out, ""))
            fprintf(stderr, "  for name %zu\n", i);
    }
}

int main(void)
{
    test_local_stack();
    test_put_clean();
    test_apikey_names();
    test_table();
    test_real_dispatch();
    test_fake_dispatch();
    test_parse_bigint();
    return CHECK_DONE("cli");
}
