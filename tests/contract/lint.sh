#!/usr/bin/env bash
# openapi.yaml is valid OpenAPI 3.1 with no warnings under @redocly/cli's
# recommended rules, and names every row of the route table.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/tests/lib/assert.sh"
C=$MG_ROOT/tests/contract
if [ ! -x "$C/node_modules/.bin/redocly" ]; then
    fail "tests/contract/node_modules is missing: run scripts/deps"
    finish; exit
fi
out=$(cd "$C" && NO_UPDATE_NOTIFIER=1 REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    node_modules/.bin/redocly lint --format=stylish "$MG_ROOT/openapi.yaml" 2>&1)
rc=$?
check "redocly lint passes (rc $rc): $out" test "$rc" = 0
no_warnings() { ! grep -Eq 'You have [0-9]+ warning' <<<"$out"; }
check "redocly lint warns of nothing: $(grep -E 'warning' <<<"$out" | head -n 5)" no_warnings
# Every route row, and no path the router does not have.
rows=$(sed -n '/^static const route routes\[\] = {/,/^};/p' "$MG_ROOT/app/router.c" |
       grep -o '[.]method = "[A-Z]*", [.]path = "[^"]*"' |
       sed 's/[.]method = "\([A-Z]*\)", [.]path = "\([^"]*\)"/\1 \2/')
check "found the route table's rows ($(wc -l <<<"$rows"))" test "$(wc -l <<<"$rows")" -gt 10
spec_paths=$(node -e '
  const YAML = require(process.argv[1] + "/node_modules/yaml");
  const doc = YAML.parse(require("fs").readFileSync(process.argv[2], "utf8"));
  for (const [p, ops] of Object.entries(doc.paths))
    for (const m of Object.keys(ops)) if (m !== "parameters") console.log(m.toUpperCase() + " " + p);
' "$C" "$MG_ROOT/openapi.yaml")
while read -r method path; do
    # A prefix row (/notifications/, /uploads/) is any path under it.
    if [ "${path: -1}" = / ]; then
        has() { grep -q "^$method ${path}{" <<<"$spec_paths"; }
    else
        has() { grep -qx "$method $path" <<<"$spec_paths"; }
    fi
    check "openapi.yaml describes the route row $method $path" has
done <<<"$rows"
finish
