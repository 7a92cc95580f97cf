#!/usr/bin/env bash
# Which way the includes run, checked on the sources without starting
# anything:
#   1. Who the caller is lives in app/caller.c alone: nothing else reads
#      REMOTE_USER or Authorization (the upload token's check takes the one
#      Bearer parser), and there is one statement that looks an API key up
#      by its digest.
#   2. No handler includes the router; the router is the only file in app/
#      that includes handlers.h or stream.h (its table names the handlers).
#   3. app/metrics.c takes its route labels at start: it includes neither
#      the router nor a handler.
#   4. The senders' table (app/notify/) names no handler: nginx-rtmp's
#      callbacks are a route row of their own, not a sender's.
#   5. No circle: taking a module as its .c and .h, the includes among
#      app/ and handlers/ form no cycle. A header with no .c of its own
#      (a layer's private declarations, e.g. app/storage/backend.h) is no
#      module: its includes count as its includer's.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/tests/lib/assert.sh"
cd "$MG_ROOT" || exit 1

# Files under the given directories whose code (comments aside) matches
# the extended regex $1, one per line.
code_matching() {
    local re=$1 f
    shift
    while read -r f; do
        sed -e 's|/\*.*\*/||g' -e '/\/\*/,/\*\//d' "$f" | grep -Eq -- "$re" && echo "$f"
    done < <(find "$@" -name '*.[ch]' | sort)
}

# --- 1. one identity module --------------------------------------------------
got=$(code_matching '"REMOTE_USER"' app handlers)
check "only app/caller.c reads REMOTE_USER (got: $got)" test "$got" = app/caller.c
# (A sender's verifier reads the header its row of notify_backends[] names:
# that is the sender's secret, not a caller.)
got=$(code_matching 'request_param\([^,]*, *"HTTP_AUTHORIZATION"' app handlers)
check "only app/caller.c reads Authorization (got: $got)" test "$got" = app/caller.c
n=$(code_matching 'FROM api_keys WHERE key_hash' app handlers | grep -v '^app/cli/' | wc -l)
check "one API-key statement on the request path (got $n files)" test "$n" = 1
n=$(grep -c 'FROM api_keys WHERE key_hash' app/db.c)
check "one API-key statement in app/db.c (got $n)" test "$n" = 1
check "handlers/caller.c is gone (app/caller.c)" test ! -e handlers/caller.c
got=$(code_matching '\bstream_caller\b' app handlers tests/unit)
check "no stream_caller left (got: $got)" test -z "$got"

# --- 2. no handler includes the router ---------------------------------------
got=$(code_matching '#include "router.h"' handlers)
check "no handler includes the router (got: $got)" test -z "$got"
got=$(code_matching '#include "(handlers|stream)\.h"' app)
check "only app/router.c includes handlers.h in app/ (got: $got)" test "$got" = app/router.c

# --- 3. metrics get their labels ---------------------------------------------
got=$(code_matching '#include "(router|handlers|stream)\.h"' app/metrics.c app/metrics.h)
check "app/metrics.* include neither the router nor a handler (got: $got)" test -z "$got"
check "serve hands metrics the route labels at start" \
    grep -q 'metrics_routes(router_labels(), router_count())' app/serve.c

# --- 4. the senders' table names no handler ----------------------------------
got=$(code_matching '\brtmp_handle\b|\bhandle_[a-z_]+ *\(|#include "(handlers|stream)\.h"' app/notify)
check "nothing in app/notify/ names a handler (got: $got)" test -z "$got"
got=$(code_matching '\.handle\b|\bhandler_fn\b' app/notify)
check "a sender's row has no handler member (got: $got)" test -z "$got"
got=$(code_matching '\bhandle_rtmp\b' app)
check "only the route table names handle_rtmp in app/ (got: $got)" test "$got" = app/router.c
# --- 5. no circle ------------------------------------------------------------
# Prints each cycle of the include graph (module = file without .c/.h),
# one per line; nothing when there is none.
include_cycles() {
    python3 - "$@" <<'PY'
import os, re, sys
files = sorted(sys.argv[1:])
mods = {f[:-2] for f in files if f.endswith('.c')} | {f[:-2] for f in files if f[:-2] + '.c' in files}
def targets(f, seen):
    """The files f includes; through a header that is no module, its own."""
    out = set()
    text = open(f, encoding='utf-8').read()
    for inc in re.findall(r'^#include "([^"]+)"', text, re.M):
        for base in (os.path.dirname(f), 'app', 'handlers'):
            t = os.path.normpath(os.path.join(base, inc))
            if t in files:
                if t[:-2] in mods:
                    out.add(t)
                elif t not in seen:
                    seen.add(t)
                    out |= targets(t, seen)
                break
    return out
graph = {m: set() for m in mods}
for f in files:
    if f[:-2] in mods:
        graph[f[:-2]] |= {t[:-2] for t in targets(f, set()) if t[:-2] != f[:-2]}
state = {}
def visit(m, path):
    state[m] = 1
    for n in sorted(graph[m]):
        if state.get(n) == 1:
            print(' -> '.join(path[path.index(n):] + [n]))
        elif n not in state:
            visit(n, path + [n])
    state[m] = 2
for m in sorted(mods):
    if m not in state:
        visit(m, [m])
PY
}
got=$(include_cycles $(find app handlers -name '*.[ch]'))
check "the includes of app/ and handlers/ form no cycle (got: $got)" test -z "$got"
finish
