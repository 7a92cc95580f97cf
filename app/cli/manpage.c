/* mediagate(1), printed from the command table (cli_root) and the settings
 * table (config_settings[]), the same tables the usage texts, `mediagate
 * settings --markdown` and so the README come from. meson builds the man
 * page by running `mediagate man`. */
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

/* One .TP entry per command that runs something, with the words above it
 * (words: "tasks retry"); groups recurse into their subcommands. */
static void put_commands(FILE *f, const cli_command *table, const char *words)
{
    for (const cli_command *c = table; c->name; c++) {
        char name[128];
        snprintf(name, sizeof name, "%s%s%s", words, *words ? " " : "", c->name);
        if (c->subs) {
            put_commands(f, c->subs, name);
            continue;
        }
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
}

static void put_settings(FILE *f)
{
    for (size_t i = 0; i < config_settings_count; i++) {
        const cfg_setting *s = &config_settings[i];
        const char *type = s->type == CFG_INT ? "integer" : s->type == CFG_BOOL ? "on/off" : "string";
        fputs(".TP\n.B ", f);
        roff(f, s->name, -1);
        fputc('\n', f);
        fprintf(f, "%s", type);
        if (s->type == CFG_INT)
            fprintf(f, " (%ld to %ld)", s->min, s->max);
        fputs(", ", f);
        if (s->required)
            fputs("required", f);
        else if (s->def && *s->def) {
            fputs("default ", f);
            roff(f, s->def, -1);
        } else
            fputs("default empty", f);
        fputs(s->reload ? "; re\\-read on SIGHUP" : "; needs a restart", f);
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
    put_commands(f, cli_root.subs, "");
    fputs(".SH SETTINGS\n"
          "Each setting is a MEDIAGATE_* environment variable, or a key in the file named by\n"
          ".B \\-\\-config\n"
          "or MEDIAGATE_CONFIG (the full name or its short form, lower case, without\n"
          "MEDIAGATE_); the environment wins.\n", f);
    put_settings(f);
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
