#!/usr/bin/env bash
# The API reference page (tools/api_html.sh, meson's api-html target, as
# docs/api.md shows it):
# built from openapi.yaml with no network at all (in a network namespace of
# its own), it holds every path of the document and loads nothing remote:
# no script, style, font, image or frame from a URL, no CSS import; and in
# headless Chromium, opened from a file, it asks the network for nothing
# and shows every path.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/tests/lib/assert.sh"
C=$MG_ROOT/tests/contract
if [ ! -x "$C/node_modules/.bin/redocly" ]; then
    fail "tests/contract/node_modules is missing: run scripts/deps"
    finish; exit
fi
T=$(mktemp -d "${MG_TEST_TMP:-/tmp}/mg-api-html.XXXXXX")
trap 'rm -rf "$T" "$_T"' EXIT
trap 'exit 143' TERM; trap 'exit 130' INT; trap 'exit 129' HUP
offline=()
[ "$(id -u)" = 0 ] && command -v unshare >/dev/null && offline=(unshare -n)
out=$("${offline[@]}" "$MG_ROOT/tools/api_html.sh" "$MG_ROOT/openapi.yaml" "$T/api.html" 2>&1)
rc=$?
check "tools/api_html.sh builds the page ${offline[*]:+with no network }(rc $rc): $out" test "$rc" = 0
check "the page is there" test -s "$T/api.html"
node -e '
  const YAML = require(process.argv[1] + "/node_modules/yaml");
  const doc = YAML.parse(require("fs").readFileSync(process.argv[2], "utf8"));
  for (const p of Object.keys(doc.paths)) console.log(p);
' "$C" "$MG_ROOT/openapi.yaml" >"$T/paths"
check "openapi.yaml has paths" test -s "$T/paths"
while read -r p; do
    check "the page holds the path $p" grep -qF -- "$p" "$T/api.html"
done <"$T/paths"
# What a browser would fetch by itself: src/href of scripts, styles, images,
# frames and media, srcset, CSS url() and @import (links a reader may
# follow, <a href>, are no loads).
remote=$(python3 - "$T/api.html" <<'PY'
import re, sys
from html.parser import HTMLParser
LOADS = {"script": "src", "img": "src", "iframe": "src", "frame": "src", "embed": "src",
         "source": "src", "video": "src", "audio": "src", "track": "src", "input": "src",
         "object": "data", "link": "href"}
def remote(u):
    return re.match(r"\s*(https?:)?//", u or "", re.I) is not None
class P(HTMLParser):
    found = []
    style = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        want = LOADS.get(tag)
        if want and remote(a.get(want)):
            self.found.append(f"<{tag} {want}={a.get(want)}>")
        for u in (a.get("srcset") or "").split(","):
            if remote(u):
                self.found.append(f"<{tag} srcset={u}>")
        if remote((a.get("poster") or "")):
            self.found.append(f"<{tag} poster>")
        self.css(a.get("style") or "")
        self.style = tag == "style"
    def handle_endtag(self, tag):
        self.style = False
    def handle_data(self, d):
        if self.style:
            self.css(d)
    def css(self, text):
        for m in re.finditer(r"url\(\s*['\"]?\s*((?:https?:)?//[^)'\"]*)|@import\s+['\"]?((?:https?:)?//[^'\";]*)", text, re.I):
            self.found.append("css " + (m.group(1) or m.group(2)))
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
print("\n".join(p.found))
PY
)
check "the page loads no remote URL: $remote" test -z "$remote"
check "the page's own policy lets it load nothing from elsewhere" \
    grep -q "http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';" "$T/api.html"
# The same in a browser, when there is one (the browser suite's).
if [ -x "${CHROMIUM:-/usr/bin/chromium}" ] && [ -d "$MG_ROOT/tests/browser/node_modules/playwright-core" ]; then
    out=$(timeout 600 node "$C/api_page.mjs" "$T/api.html" "$T/paths" 2>&1)
    rc=$?
    check "Chromium shows every path and fetches nothing remote (rc $rc): $(grep -v '^ok:' <<<"$out")" \
        test "$rc" = 0
else
    echo "api_html.sh: no Chromium or playwright-core: the browser check is skipped"
fi
finish
