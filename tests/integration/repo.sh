#!/usr/bin/env bash
# What the repository itself must hold, checked without starting anything:
#   1. Every committed script (a file starting with #!) has its run bit in
#      git's index, so a fresh clone runs it (.ci/run, scripts/, tests).
#   2. No shell test reads $? after a command substitution in the same
#      command (it is the substitution's status, so the check cannot fail),
#      and none masks a status with `local|export|declare x=$(...)`
#      (shellcheck SC2155).
#   3. The MIT license text is there, as meson.build's license says.
#   4. SQL runs only through the db layer (app/db.c) and its statement
#      tables; a function is defined only in its own sql/functions/NAME.sql.
set -u
MG_ROOT=${MG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$MG_ROOT/tests/lib/assert.sh"
cd "$MG_ROOT" || exit 1

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "not a git checkout: nothing to check" >&2
    exit 77
fi
# Tracked files, with their index modes, as a fresh clone gets them.
scripts=()
while IFS=$'\t' read -r meta f; do
    [ "$(head -c 2 "$f" 2>/dev/null | tr -d '\0')" = '#!' ] || continue
    check "$f starts with #! and is committed executable (git update-index --chmod=+x $f)" \
        test "${meta%% *}" = 100755
    case $(head -n 1 "$f") in *bash* | *'/sh'*) scripts+=("$f") ;; esac
done < <(git ls-files -s)
while read -r f; do scripts+=("$f"); done < <(git ls-files '*.sh' 'scripts/*' '.ci/*' | grep -v '\.py$')
mapfile -t scripts < <(printf '%s\n' "${scripts[@]}" | sort -u)
check "found the shell scripts (${#scripts[@]})" test "${#scripts[@]}" -gt 20

# $? after $( in one command (continuation lines joined first).
bad=$(for f in "${scripts[@]}"; do
    awk -v f="$f" '{ line = line $0 } /\\$/ { sub(/\\$/, "", line); next }
        { l = line; line = ""; sub(/^[ \t]*#.*/, "", l); gsub(/\$\(\(/, "", l)
          i = index(l, "$" "("); j = index(l, "$" "?")
          if (i && j > i) printf "%s: %s\n", f, l }' "$f"
done)
check "no \$? read after a command substitution in the same command: $bad" test -z "$bad"
out=$(shellcheck -s bash --include=SC2155 -f gcc "${scripts[@]}" 2>&1)
rc=$?
check "no status masked by local/export x=\$(...) (shellcheck SC2155, rc $rc): $out" test "$rc" = 0

# --- SQL in statement tables, functions in their own files -------------------
out=$(git grep -nE '\bPQ(exec|execParams|execPrepared|prepare|sendQuery|sendQueryParams|sendPrepare|sendQueryPrepared)\(' -- 'app/*.c' 'handlers/*.c' ':!app/db.c')
check "no query sent outside app/db.c (a statement table and db_exec instead): $out" test -z "$out"
out=$(git grep -nEi '^CREATE (OR REPLACE )?FUNCTION' -- 'sql/*.sql' ':!sql/functions/*')
check "no function defined in a migration (sql/functions/NAME.sql instead): $out" test -z "$out"
bad=$(for f in sql/functions/*.sql; do
    n=$(basename "$f" .sql)
    [ "$(grep -ciE '^CREATE (OR REPLACE )?FUNCTION' "$f")" = 1 ] &&
        grep -qE "^CREATE OR REPLACE FUNCTION $n\(" "$f" || echo "$f"
done)
check "each sql/functions/NAME.sql defines the function NAME, and only it: $bad" test -z "$bad"

# --- .clang-format ------------------------------------------------------------
# It describes the code as written: with it clang-format moves few lines of
# the tree (what it still moves is mostly aligned by hand: tables, trailing
# comments), so formatting a change leaves its neighbours alone. Without it,
# clang-format's default (LLVM: 2 spaces, 80 columns) moves most lines.
check "clang-format reads .clang-format" sh -c 'clang-format --dump-config app/hash.c >/dev/null'
total=0 moved=0
while read -r f; do
    total=$((total + $(wc -l <"$f")))
    moved=$((moved + $(clang-format "$f" | diff "$f" - | grep -c '^>')))
done < <(git ls-files 'app/*.[ch]' 'handlers/*.[ch]' 'tests/*.[ch]')
check "clang-format would move under 15% of the C lines ($moved of $total)" \
    test $((moved * 100)) -lt $((total * 15))
for f in app/hash.c tests/unit/test_hash.c; do
    check "$f is as clang-format writes it" sh -c 'clang-format "$1" | cmp -s "$1" -' _ "$f"
done

# --- the license -------------------------------------------------------------
check "LICENSE is there" test -s LICENSE
check "LICENSE is the MIT license" grep -q '^Permission is hereby granted, free of charge' LICENSE
check "LICENSE names the authors" grep -qx 'Copyright (c) 2026 the mediagate authors' LICENSE
check "meson.build says MIT" grep -q "license : 'MIT'" meson.build
finish
