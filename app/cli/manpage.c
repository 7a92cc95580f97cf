/* mediagate(1) and docs/settings.md, printed from the command table
 * (cli_root) and the settings tables (config_settings[], config_rules[]),
 * the same tables the usage texts and check-config come from. meson builds
 * the man page by running `mediagate man`; `mediagate settings
 * --markdown-page` prints docs/settings.md. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config.h"

/* Writes s as roff text: backslashes and hyphens escaped, a control
 * character at the start of a line made literal. len < 0: all of s. */
static void roff(FILE *f, const char *s, int len)
{
    bool bol = true;
    for (int i = 0; s[i] && (len < 0 || i < len); i++) {
        char c = s[i];
        if (bol && (c == '.' || c == '\''))
            fputs("\\&", f);
        if (c == '\\')
            fputs("\\e", f);
        else if (c == '-')
            fputs("\\-", f);
        else
            fputc(c, f);
        bol = c == '\n';
    }
}

/* The usage text after its first line, as paragraphs of roff. */
static void usage_rest(FILE *f, const char *usage)
{
    const char *nl = strchr(usage, '\n');
    if (!nl || !nl[1])
        return;
    fputs(".br\n", f);
    roff(f, nl + 1, -1);
    if (nl[strlen(nl) - 1] != '\n')
        fputc('\n', f);
}

/* Calls put(f, name, c) for every command of table that runs something,
 * name holding the words above it ("tasks retry"); groups recurse into
 * their subcommands. */
static void each_command(FILE *f, const cli_command *table, const char *words,
                         void (*put)(FILE *f, const char *name, const cli_command *c))
{
    for (const cli_command *c = table; c->name; c++) {
        char name[128];
        snprintf(name, sizeof name, "%s%s%s", words, *words ? " " : "", c->name);
        if (c->subs)
            each_command(f, c->subs, name, put);
        else
            put(f, name, c);
    }
}

/* One .TP entry for command c. */
static void put_command(FILE *f, const char *name, const cli_command *c)
{
    fputs(".TP\n\\fB", f);
    roff(f, name, -1);
    fputs("\\fR", f);
    if (c->args && *c->args) {
        fputs(" \\fI", f);
        roff(f, c->args, -1);
        fputs("\\fR", f);
    }
    fputc('\n', f);
    const char *nl = strchr(c->usage, '\n');
    roff(f, c->usage, nl ? (int)(nl - c->usage) : -1);
    fputc('\n', f);
    usage_rest(f, c->usage);
}

/* What setting s holds, in words ("URL (http https)", "seconds (0 to
 * 3600)"), with its flags, in buf (cap bytes); to joins a range's bounds. */
static void kind_text(const cfg_setting *s, const char *to, char *buf, size_t cap)
{
    static const char *const words[] = {
        [CFG_TEXT] = "text", [CFG_URL] = "URL", [CFG_DIR] = "absolute directory",
        [CFG_FILE] = "readable file", [CFG_ENUM] = "one of", [CFG_CONNINFO] = "connection string",
        [CFG_NUMBER] = "integer", [CFG_SECONDS] = "seconds", [CFG_MILLISECONDS] = "milliseconds",
        [CFG_BYTES] = "bytes", [CFG_SWITCH] = "on/off"};
    size_t n = 0;
    n += (size_t)snprintf(buf, cap, "%s%s", s->kind == CFG_URL && s->url == CFG_URL_OR_PATH
                                                ? "path or " : "", words[s->kind]);
    if (s->kind == CFG_URL)
        n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, " (%s%s)",
                              s->schemes ? s->schemes : "http https",
                              s->url >= CFG_URL_NO_QUERY ? ", no query" : "");
    else if (s->kind == CFG_ENUM)
        n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, " %s", s->choices);
    else if (config_type(s) == CFG_INT)
        n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, " (%ld%s%ld)", s->min, to, s->max);
    if (s->secret)
        n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, ", secret");
    if (s->min_length)
        n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, " of at least %zu characters",
                              s->min_length);
    if (s->required_with)
        snprintf(buf + n, n < cap ? cap - n : 0, ", required with %s", s->required_with);
}

static void put_settings(FILE *f)
{
    for (size_t i = 0; i < config_settings_count; i++) {
        const cfg_setting *s = &config_settings[i];
        char kind[256];
        kind_text(s, " to ", kind, sizeof kind);
        fputs(".TP\n.B ", f);
        roff(f, s->name, -1);
        fputc('\n', f);
        roff(f, kind, -1);
        fputs(", ", f);
        if (s->required)
            fputs("required", f);
        else if (s->def && *s->def) {
            fputs("default ", f);
            roff(f, s->def, -1);
        } else
            fputs("default empty", f);
        fputs(s->reload ? "; re\\-read\\~on\\~SIGHUP" : "; needs\\~a\\~restart", f);
        fputs(".\n.br\n", f);
        roff(f, s->help, -1);
        fputc('\n', f);
    }
}

void cli_print_manpage(FILE *f)
{
    fprintf(f, ".TH MEDIAGATE 1 \"\" \"mediagate %s\" \"User Commands\"\n", MEDIAGATE_VERSION);
    fputs(".SH NAME\nmediagate \\- ", f);
    const char *nl = strchr(cli_root.usage, '\n');
    roff(f, cli_root.usage, nl ? (int)(nl - cli_root.usage) : -1);
    fputs("\n.SH SYNOPSIS\n.B mediagate\n[\\fB\\-\\-config\\fR \\fIFILE\\fR]\n"
          ".I COMMAND\n[\\fIARGS\\fR...]\n.SH DESCRIPTION\n", f);
    usage_rest(f, cli_root.usage);
    fputs(".SH COMMANDS\n", f);
    each_command(f, cli_root.subs, "", put_command);
    fputs(".SH SETTINGS\n"
          "Each setting is a MEDIAGATE_* environment variable, or a key in the file named by\n"
          ".B \\-\\-config\n"
          "or MEDIAGATE_CONFIG (the full name or its short form, lower case, without\n"
          "MEDIAGATE_); the environment wins.\n", f);
    put_settings(f);
    fputs(".PP\nSettings that need others:\n", f);
    for (size_t i = 0; i < config_rules_count; i++) {
        fputs(".IP \\(bu 2\n", f);
        roff(f, config_rules[i].msg, -1);
        fputc('\n', f);
    }
    fputs(".SH SIGNALS\n"
          ".TP\n.B SIGTERM, SIGINT\n"
          "serve stops accepting, lets in\\-flight requests finish and exits 0; the worker\n"
          "hands its running tasks back.\n"
          ".TP\n.B SIGHUP\n"
          "serve reads its settings again and logs every one that changed; a changed\n"
          "setting that needs a restart is named in the log and keeps its old value.\n"
          ".SH FILES\n"
          ".TP\n.I /etc/mediagate/mediagate.conf\n"
          "the settings file the systemd units name (MEDIAGATE_CONFIG).\n"
          ".TP\n.I /run/mediagate/mediagate.sock\n"
          "the FastCGI socket mediagate.socket opens for nginx.\n"
          ".SH SEE ALSO\n"
          ".BR nginx (8),\n.BR systemd.socket (5),\n.BR postgres (1)\n", f);
}

/* Writes s for a markdown table cell: | escaped. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

/* One row of the settings table per setting: name, kind, default, what
 * SIGHUP does, help. */
static void put_settings_rows(FILE *f)
{
    for (size_t i = 0; i < config_settings_count; i++) {
        const cfg_setting *s = &config_settings[i];
        char kind[256];
        kind_text(s, "–", kind, sizeof kind);
        fprintf(f, "| `%s` | ", s->name);
        md_cell(f, kind);
        fputs(" | ", f);
        md_cell(f, s->required ? "required" : s->def && *s->def ? s->def : "(empty)");
        fprintf(f, " | %s | ", s->reload ? "reload" : "restart");
        md_cell(f, s->help);
        fputs(" |\n", f);
    }
}

/* Command c as a markdown section, as put_command does in roff. */
static void put_command_md(FILE *f, const char *name, const cli_command *c)
{
    const char *nl = strchr(c->usage, '\n');
    fprintf(f, "\n### `mediagate %s%s%s`\n\n%.*s\n", name, c->args && *c->args ? " " : "",
            c->args ? c->args : "", nl ? (int)(nl - c->usage) : (int)strlen(c->usage),
            c->usage);
    if (nl && nl[1])
        fprintf(f, "\n```text\n%s%s```\n", nl + 1, nl[strlen(nl) - 1] == '\n' ? "" : "\n");
}

/* docs/settings.md: every setting with its kind and default, the rules
 * between settings, and every command. */
static void put_settings_page(FILE *f)
{
    fputs("# Settings and commands\n\n"
          "<!-- Made by `mediagate settings --markdown-page` from the settings and command\n"
          "     tables in the code, as mediagate(1) is: change those, not this page. -->\n\n"
          "## Settings\n\n"
          "Each setting is a `MEDIAGATE_*` environment variable, or a key in the file named\n"
          "by `--config` or `MEDIAGATE_CONFIG` (the full name or its short form, lower case,\n"
          "without `MEDIAGATE_`); the environment wins. `mediagate check-config` reports\n"
          "every problem at once. *reload*: serve applies a new value on SIGHUP;\n"
          "*restart*: it is read once at start.\n\n"
          "| name | kind | default | on SIGHUP | meaning |\n"
          "|---|---|---|---|---|\n", f);
    put_settings_rows(f);
    fputs("\nSettings that need others:\n\n", f);
    for (size_t i = 0; i < config_settings_count; i++)
        if (config_settings[i].required_with)
            fprintf(f, "- `%s` is required when `%s` is set\n", config_settings[i].name,
                    config_settings[i].required_with);
    for (size_t i = 0; i < config_rules_count; i++)
        fprintf(f, "- %s\n", config_rules[i].msg);
    fputs("\n## Commands\n\n"
          "`mediagate [--config FILE] COMMAND [ARGS]...`; `mediagate COMMAND --help` prints a\n"
          "command's usage.\n", f);
    each_command(f, cli_root.subs, "", put_command_md);
}

void cli_print_settings(FILE *f, cli_settings_format format)
{
    if (format == CLI_SETTINGS_MARKDOWN) {
        put_settings_rows(f);
        return;
    }
    if (format == CLI_SETTINGS_PAGE) {
        put_settings_page(f);
        return;
    }
    for (size_t i = 0; i < config_settings_count; i++) {
        const cfg_setting *s = &config_settings[i];
        cfg_type t = config_type(s);
        fprintf(f, "%-28s %-8s default=%s%s%s\n    %s\n", s->name,
                t == CFG_INT ? "integer" : t == CFG_BOOL ? "on/off" : "string",
                s->def ? (*s->def ? s->def : "(empty)") : "(none)", s->required ? " required" : "",
                s->reload ? " (SIGHUP reloads)" : "", s->help);
    }
}
