#!/usr/bin/env bash
# tools/api_html.sh OPENAPI OUT: the API reference as one readable HTML
# page, rendered from openapi.yaml by @redocly/cli's build-docs with Redoc
# inlined (--inlineBundle), so the page loads nothing from the network and
# the build needs none. @redocly/cli is the npm package pinned in
# tests/contract/package-lock.json (scripts/deps installs it; the contract
# linter uses the same one).
set -eu
[ $# = 2 ] || { echo "usage: tools/api_html.sh OPENAPI OUT" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
redocly=$root/tests/contract/node_modules/.bin/redocly
[ -x "$redocly" ] || { echo "api_html.sh: $redocly is missing: run scripts/deps" >&2; exit 1; }
# Its output is a banner and a line of timing; show it only on a failure.
if ! out=$(NO_UPDATE_NOTIFIER=1 REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
        "$redocly" build-docs "$1" --inlineBundle --title "mediagate API reference" -o "$2" 2>&1); then
    echo "$out" >&2
    exit 1
fi
# Redoc's sidebar shows the vendor's logo from its CDN; the page's own
# Content-Security-Policy lets it load nothing but what it carries inline
# (the logo is then left out), so opening it never reaches the network.
csp="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'"
csp="$csp; img-src data: blob:; font-src data:; worker-src blob:"
sed -i "0,/<meta charset=\"utf8\" \/>/s##&\n  <meta http-equiv=\"Content-Security-Policy\" content=\"$csp\">#" "$2"
grep -q 'http-equiv="Content-Security-Policy"' "$2" ||
    { echo "api_html.sh: no <meta charset> in the page to put the policy after" >&2; exit 1; }
