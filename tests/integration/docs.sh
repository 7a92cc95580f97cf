#!/usr/bin/env bash
# docs/settings.md is what the settings and command tables print, and the
# nginx snippet names the socket exactly once, as operators' scripts expect.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/scripts/lib.sh"
source "$MG_ROOT/tests/lib/assert.sh"
check "docs/settings.md is what 'mediagate settings --markdown-page' prints" \
    diff "$MG_ROOT/docs/settings.md" <("$MG_BIN" settings --markdown-page)
check "docs/settings.md holds the rows 'mediagate settings --markdown' prints" \
    diff <(grep '^| `MEDIAGATE_' "$MG_ROOT/docs/settings.md") <("$MG_BIN" settings --markdown)
check "socket path appears once in the snippet" \
    test "$(grep -c 'unix:/run/mediagate/mediagate.sock' "$MG_ROOT/nginx/mediagate.conf")" = 1
check "snippet clears HTTP_PROXY" grep -q 'fastcgi_param HTTP_PROXY *""' "$MG_ROOT/nginx/mediagate.conf"
for s in $("$MG_BIN" settings | grep -o '^MEDIAGATE_[A-Z0-9_]*'); do
    field=$(sed 's/^MEDIAGATE_//' <<<"$s" | tr 'A-Z' 'a-z')
    # Some settings are read through what validation derives from them.
    case $field in allowed_origins) field=origins ;; socket_group) field=socket_gid ;;
        mediaconvert_header) field=mediaconvert_param ;; stream_auth) field=trust_remote_user ;;
        stream_vod) field=vod_rtmp ;; tencent_definitions) field=tencent_defs ;;
        log_format) field=log_json ;; esac
    # (a notification sender's row names its secret as SETTING(field))
    uses=$(grep -lE -- "(->$field\b|SETTING\($field\))" "$MG_ROOT"/app/*.c "$MG_ROOT"/app/*/*.c \
        "$MG_ROOT"/handlers/*.c "$MG_ROOT"/handlers/*/*.c | grep -vc config.c)
    check "$s is used outside the config table" test "$uses" -gt 0
done

# --help and -h print the command's usage on stdout and do nothing else: no
# configuration is read (an invalid setting would be reported), no database
# is reached (the socket does not exist), no worker or migration starts (a
# worker would wait for the database until the timeout).
nodb="postgresql:///mediagate?host=/nonexistent/mediagate-docs&connect_timeout=2"
helperr=$(mktemp)
# synopsis_of WORDS LINE: LINE is the usage line of command WORDS.
synopsis_of() {
    local want="usage: mediagate [--config FILE]${1:+ $1}"
    [ "$2" = "$want" ] || [ "${2#"$want "}" != "$2" ]
}
for args in "worker --help" "migrate --help" "migrate -h" "serve --help" "tasks --help" \
    "tasks list --help" "tasks retry -h" "jobs -h" "jobs show --help" "apikey create --help" \
    "notifications replay --help" "submit -h" "--help"; do
    words=${args% *}
    [ "$words" = "$args" ] && words=""
    # shellcheck disable=SC2086  # args is several words
    out=$(MEDIAGATE_DATABASE_URL=$nodb MEDIAGATE_THREADS=5000 timeout 60 "$MG_BIN" $args \
        2>"$helperr")
    rc=$?
    check "'mediagate $args' exits 0 at once (got $rc)" test "$rc" = 0
    check "'mediagate $args' prints its usage: ${out%%$'\n'*}" synopsis_of "$words" "${out%%$'\n'*}"
    check "'mediagate $args' writes nothing to stderr: $(head -c 200 "$helperr")" \
        test ! -s "$helperr"
done
# Unknown commands are usage errors: exit 2, usage on stderr, nothing on stdout.
for args in "bogus" "tasks bogus" "jobs bogus" "apikey"; do
    # shellcheck disable=SC2086
    out=$(MEDIAGATE_DATABASE_URL=$nodb timeout 60 "$MG_BIN" $args 2>"$helperr")
    rc=$?
    check "'mediagate $args' exits 2 (got $rc)" test "$rc" = 2
    check "'mediagate $args' prints nothing on stdout: $out" test -z "$out"
    check "'mediagate $args' prints usage on stderr" grep -q '^usage: mediagate' "$helperr"
done
rm -f "$helperr"

# The nginx-rtmp steps of docs/live.md, as written, on a copy of this Debian's own
# /etc/nginx (its directories moved into a temporary one).
if [ -f /etc/nginx/modules-enabled/50-mod-rtmp.conf ] && [ "$(id -u)" = 0 ]; then
    t=$(mktemp -d /tmp/mg-rtmp-steps.XXXXXX)
    steps=$(sed -n '/^RTMP ingest needs nginx-rtmp/,/^Then serve the HLS/p' "$MG_ROOT/docs/live.md" |
            sed -n '/^```sh/,/^```/p' | grep -v '^```' | grep -v '^apt-get' |
            sed -e "s#/etc/nginx#$t/etc-nginx#g" -e "s#/var/lib/mediagate/#$t/var/#g" \
                -e "s#nginx/mediagate-rtmp.conf #$MG_ROOT/nginx/mediagate-rtmp.conf #" \
                -e "/^nginx -t/d")
    cp -a /etc/nginx "$t/etc-nginx"
    sed -i "s#/etc/nginx/#$t/etc-nginx/#g" "$t/etc-nginx/nginx.conf"
    has_include() { grep -q "include .*mediagate-rtmp.conf" <<<"$steps"; }
    check "docs/live.md gives the RTMP steps as commands, including the snippet" has_include
    no_load_module() { ! grep -q load_module <<<"$steps"; }
    check "docs/live.md's RTMP steps name no load_module" no_load_module
    # The snippet's own paths point into the copy too (the steps say: edit them).
    out=$(cd "$t" && bash -ec "$steps
        sed -i -e 's#/var/lib/mediagate/#$t/var/#g' -e 's#/var/log/nginx/#$t/#' $t/etc-nginx/mediagate-rtmp.conf
        nginx -t -q -c $t/etc-nginx/nginx.conf" 2>&1)
    check "docs/live.md's RTMP steps work on Debian's nginx.conf: $out" test -z "$out"
    rm -rf "$t"
fi

# --- every command the docs show is run or checked by a test ----------------------
# Each command block of the README and docs/ (a ```sh block, or a block of
# `$ mediagate …` or `mediagate …` lines) has a row here: the page, the
# block's first line, and the test that runs it, which names the page.
runners="README.md|scripts/up      # install packages|tests/integration/tour.sh (scripts/up; scripts/test is .ci/run)
README.md|scripts/up|tests/integration/tour.sh
README.md|curl -s -H \"Authorization: Bearer \$key\" -d type=hls|tests/integration/tour.sh
README.md|scripts/down|tests/integration/tour.sh
docs/access.md|\$ mediagate jobs acl |tests/integration/cache.sh
docs/api.md|tools/api_html.sh openapi.yaml api.html|tests/contract/api_html.sh
docs/captions.md|curl -s -X PUT -H \"Authorization: Bearer \$key\"|tests/pytest/test_captions.py
docs/encoder.md|\$ mediagate jobs cancel |tests/pytest/test_encoders.py
docs/library.md|curl -s -H \"Authorization: Bearer \$key\" \"http://127.0.0.1:8080/media/jobs?|tests/pytest/test_jobs_list.py
docs/library.md|curl -s -X DELETE -H \"Authorization: Bearer \$key\" \"https://media.example.com/media/jobs/|tests/pytest/test_jobs_delete.py
docs/live.md|apt-get install nginx libnginx-mod-rtmp|tests/integration/docs.sh
docs/notifications.md|mediagate notifications list [--all]|tests/integration/docs.sh
docs/operations.md|\$ mediagate tasks list --dead|tests/integration/docs.sh
docs/profiles.md|\$ mediagate profiles list|tests/pytest/test_profiles.py
docs/scaling.md|\$ mediagate storage migrate --dry-run|tests/pytest/test_storage_migrate.py
docs/service.md|scripts/deps |tests/integration/install.sh
docs/storage.md|\$ mediagate check-config --connect|tests/pytest/test_storage.py
docs/thumbnails.md|until [ \"\$(curl -s -o thumb.jpg|tests/pytest/test_thumbnails.py
docs/service.md|apt-get install runit|tests/integration/runit.sh
docs/uploads.md|curl -s -T video.mp4|tests/integration/docs.sh
docs/uploads.md|\$ mediagate apikey create limited --profiles mux-hd --targets tencent,mux|tests/pytest/test_upload_targets.py
docs/uploads.md|curl -s -H \"Authorization: Bearer \$key\" --data-urlencode url=|tests/pytest/test_upload_url.py
docs/uploads.md|loc=\$(curl -s -o /dev/null|tests/pytest/test_tus.py
docs/webhooks.md|\$ mediagate webhook add https://app.example.com/|tests/pytest/test_webhooks.py
docs/webhooks.md|\$ mediagate webhook add http://127.0.0.1:8080/hooks|tests/pytest/test_webhooks.py
docs/webhooks.md|id=\$(curl -s -H \"Authorization: Bearer \$key\"|tests/pytest/test_console_api.py
docs/library.md|curl -s -X PATCH -H \"Authorization: Bearer \$key\"|tests/pytest/test_console_api.py"
# command_blocks FILE: LINE<tab>first line of each command block of FILE.
command_blocks() {
    awk '/^ *```/ { if (!inb) { inb = 1; lang = $0; sub(/^ *```/, "", lang); start = NR + 1; first = ""; next }
                    inb = 0; if (lang == "sh" || first ~ /^\$ mediagate / || first ~ /^mediagate /)
                        print start "\t" first; next }
         inb && first == "" { first = $0; sub(/^ +/, "", first) }' "$1"
}
for f in "$MG_ROOT/README.md" "$MG_ROOT"/docs/*.md "$MG_ROOT"/docs/*/*.md; do
    page=${f#"$MG_ROOT/"}
    while IFS=$'\t' read -r line first; do
        runner=$(awk -F'|' -v p="$page" -v l="$first" '$1 == p && index(l, $2) == 1 {print $3; exit}' <<<"$runners")
        check "$page:$line, a command block ('${first:0:60}'), names the test that runs it" test -n "$runner"
        [ -n "$runner" ] || continue
        t=$MG_ROOT/${runner%% *}
        check "$page:$line is run by ${runner%% *}, which names $page" \
            bash -c 'grep -v -- "^$1|" "$2" | grep -qF -- "$1"' _ "$page" "$t"
    done < <(command_blocks "$f")
done

# is_command WORD...: WORDS are a command, maybe with arguments after it:
# its usage names the command's own words, and they begin WORDS.
is_command() {
    local usage own all="$*"
    usage=$("$MG_BIN" "$@" --help 2>/dev/null | head -n 1)
    usage=${usage#usage: mediagate }
    usage=${usage#"[--config FILE] "}
    own=$(grep -oE '^[a-z][a-z-]*( [a-z][a-z-]*)*' <<<"$usage")
    # A group's usage (`tasks [COMMAND]`): a word after it names no subcommand.
    [ "${usage#"$own [COMMAND]"}" = "$usage" ] || [ "$all" = "$own" ] || return 1
    [ -n "$own" ] && { [ "$all" = "$own" ] || [ "${all#"$own "}" != "$all" ]; }
}
# The commands the docs name exist, with the arguments they show: each
# `mediagate …` line of a synopsis block is the start of that command's
# usage, and each `$ mediagate …` line names a command whose --help works.
# (This is what checks the synopsis block of docs/notifications.md.)
for f in "$MG_ROOT/README.md" "$MG_ROOT"/docs/*.md "$MG_ROOT"/docs/*/*.md; do
    page=${f#"$MG_ROOT/"}
    while read -r l; do
        shown=$(sed -e 's/ *#.*$//' -e 's/^mediagate //' <<<"$l")
        words=$(grep -oE '^[a-z][a-z-]*( [a-z][a-z-]*)*' <<<"$shown")
        # shellcheck disable=SC2086  # the command's words
        usage=$("$MG_BIN" $words --help 2>&1 | head -n 1)
        starts() { [ "${usage#"usage: mediagate [--config FILE] $shown"}" != "$usage" ]; }
        check "$page: 'mediagate $shown' is how 'mediagate $words --help' begins: $usage" starts
    done < <(awk '/^```/ {inb = !inb; plain = $0 == "```"; next}
                  inb && plain && /^mediagate / && !/^mediagate (settings|man|version|help)/' "$f")
    while read -r l; do
        words=$(sed 's/^\$ mediagate //' <<<"$l" | grep -oE '^[a-z][a-z-]*( [a-z][a-z-]*)*')
        # shellcheck disable=SC2086
        check "$page: 'mediagate $words' is a command" is_command $words
    done < <(awk '/^```/ {inb = !inb; next} inb && /^\$ mediagate /' "$f")
done

# The commands named in the text (`mediagate apikey create NAME`) exist
# too (the answers' messages, `mediagate is …`, are no commands).
while read -r words; do
    # shellcheck disable=SC2086
    check "the docs' 'mediagate $words' is a command" is_command $words
done < <(cat "$MG_ROOT/README.md" "$MG_ROOT"/docs/*.md "$MG_ROOT"/docs/*/*.md |
         grep -oE '`mediagate [a-z][^`]*`' | grep -v '^`mediagate is ' |
         sed -E 's/^`mediagate //; s/`$//' | grep -oE '^[a-z][a-z-]*( [a-z][a-z-]*)*' | sort -u)

# Every link between the pages leads somewhere: the file exists, and an
# anchor is a heading of it (GitHub's slugs).
broken=$(python3 - "$MG_ROOT" <<'PY'
import glob, os, re, sys
root = sys.argv[1]
def slugs(path):
    out, fence = set(), False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        if not fence and line.startswith("#"):
            t = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^\w\- ]", "", t).replace(" ", "-"))
    return out
pages = [os.path.join(root, "README.md")] + glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True)
for page in pages:
    text = re.sub(r"```.*?```", "", open(page, encoding="utf-8").read(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        rel = os.path.relpath(page, root)
        if not os.path.exists(dest):
            print(f"{rel}: {target} (no such file)")
        elif anchor and dest.endswith(".md") and anchor not in slugs(dest):
            print(f"{rel}: {target} (no such heading)")
PY
)
check "every link of the README and docs/ leads somewhere: $broken" test -z "$broken"

# The README's layout is the tree: every path it names exists, every file it
# names in a directory's row is there, and every C file of app/ and
# handlers/, every snippet, script and tool, and every entry at the top of
# the checkout (git's, when it is one) is named.
layout=$(python3 - "$MG_ROOT" <<'PY'
import glob, os, re, subprocess, sys
root = sys.argv[1]
text = open(os.path.join(root, "README.md"), encoding="utf-8").read()
rows = {}
for line in text[text.index("\n## Layout\n"):].split("\n"):
    m = re.match(r"\| (.+?) \| (.+) \|$", line)
    if m and m.group(1).startswith("`"):
        for p in re.findall(r"`([^`]+)`", m.group(1)):
            rows[p] = re.findall(r"`([^`]+)`", m.group(2))
bad = []
for p, names in rows.items():
    if not os.path.exists(os.path.join(root, p)):
        bad.append(f"the layout names {p}, which is not in the tree")
    if p.endswith("/"):
        for n in names:
            if re.fullmatch(r"[\w/-]+\.(c|sh|py|conf)", n) or (p == "scripts/" and re.fullmatch(r"[a-z]+", n)):
                if not os.path.exists(os.path.join(root, p, n)):
                    bad.append(f"the layout's {p} names {n}, which is not there")
def named(path):
    for p, names in rows.items():
        if path == p or path + "/" == p or (p.endswith("/") and path.startswith(p) and path[len(p):] in names):
            return True
    return False
want = [os.path.relpath(f, root) for pat in ("app/*.c", "app/*/*.c", "handlers/*.c", "handlers/*/*.c",
                                             "nginx/*.conf", "scripts/*", "tools/*")
        for f in glob.glob(os.path.join(root, pat))]
for f in sorted(want):
    if not named(f):
        bad.append(f"{f} is not in the layout")
try:
    tops = subprocess.run(["git", "-C", root, "ls-files"], capture_output=True, text=True, check=True).stdout.split()
    tops = sorted({t.split("/")[0] for t in tops})
except (OSError, subprocess.CalledProcessError):
    tops = [t for t in os.listdir(root) if t not in (".git", "var") and not t.startswith("build")]
for t in tops:
    if t != "README.md" and not any(p == t or p.startswith(t + "/") for p in rows):
        bad.append(f"{t} (at the top of the checkout) is not in the layout")
print("\n".join(bad))
PY
)
check "the README's layout is the tree: $layout" test -z "$layout"

# The man page, as the README and docs/operations.md show it.
check "'mediagate man | man -l -' renders the page" \
    bash -c "'$MG_BIN' man | MANWIDTH=80 man -l - 2>&1 | grep -q MEDIAGATE_DATABASE_URL"

# docs/uploads.md's upload with an API key is the tour's (tour.sh), on
# the site's URL instead of the local stack's.
upload=$(awk '/^```sh/ {inb = 1; next} /^```/ {inb = 0} inb && /^curl -s -T video.mp4/' "$MG_ROOT/docs/uploads.md")
in_tour() { grep -qF -- "${upload//https:\/\/video.example.com/http://127.0.0.1:8080}" "$MG_ROOT/README.md"; }
check "docs/uploads.md's upload ('$upload') is the README tour's" in_tour

# docs/operations.md's operator transcript, run against a real database
# holding the task it shows: each `$ mediagate …` line prints what follows it.
if [ "$(id -u)" = 0 ]; then
    mg_suite || exit 1
    PG_OPTS="-c fsync=off -c synchronous_commit=off" pg_start || exit 1
    "$MG_BIN" migrate >"$RUN/migrate.log" 2>&1 || cat "$RUN/migrate.log"
    job=c47eed53-d101-408b-9f6a-ed55ae347836
    psql_q "INSERT INTO jobs (id, backend, input_file, status, error_code, error_message)
            VALUES ('$job', 'local', '/srv/in.mp4', 'ERROR', 5, 'gave up after 3 attempts')"
    psql_q "INSERT INTO outbox (id, kind, payload, attempts, failed_at, started_at, last_error)
            VALUES (41, 'local.encode', '{\"job_id\": \"$job\"}', 3, '2026-12-02 04:24:41+00',
                    '2026-12-02 04:20:00+00',
                    'gave up after 3 attempts: the worker stopped during the attempt')"
    transcript=$(awk '/^```/ {if (on) exit; next} /^\$ mediagate tasks list --dead/ {on = 1} on' \
                 "$MG_ROOT/docs/operations.md")
    cmd="" want=""
    run_shown() {
        [ -n "$cmd" ] || return 0
        # shellcheck disable=SC2086  # the command's words
        got=$(TZ=UTC "$MG_BIN" $cmd 2>&1)
        check "docs/operations.md: 'mediagate $cmd' prints what the page shows: $(diff <(printf '%s' "$want") <(printf '%s\n' "$got"))" \
            test "$got" = "${want%$'\n'}"
    }
    while IFS= read -r l; do
        if [ "${l#'$ mediagate '}" != "$l" ]; then
            run_shown
            cmd=${l#'$ mediagate '} want=""
        else
            want+="$l"$'\n'
        fi
    done <<<"$transcript"
    run_shown
fi
finish
