#!/bin/sh
# make check: the host unit tests, the fuzzers, then the QEMU scenarios, each
# part's output as it comes, and one total "N passed, N failed" line (each
# part ends with its own).  Exits non-zero if any part failed.
set -eu
make=${MAKE:-make}
# shellcheck source=tests/lib/counts.sh
# shellcheck disable=SC1091 # followed by shellcheck -x
. "$(dirname "$0")/lib/counts.sh"
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log" "$log.rc"' EXIT
for part in check-unit check-fuzz check-qemu; do
    { rc=0; "$make" --no-print-directory "$part" 2>&1 || rc=$?; echo "$rc" > "$log.rc"; } | tee "$log"
    rc=$(cat "$log.rc")
    c=$(counts_of "$rc" "$(grep -E '(^|: )[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 | sed 's/^[a-z]*: //')")
    p=${c% *} f=${c#* }
    echo "make $part: $p passed, $f failed"
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
