#!/bin/sh
# Run the named QEMU scenarios one after another; print each one's output and
# a total "N passed, N failed" line.  Exit non-zero if any scenario failed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
passed=0
failed=0
for name in "$@"; do
    echo "=== tests/qemu/$name.sh"
    out=$("$here/$name.sh" 2>&1) && rc=0 || rc=$?
    printf '%s\n' "$out"
    counts=$(printf '%s\n' "$out" | tail -n 1)
    p=$(echo "$counts" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$counts" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then p=0; f=1; fi
    [ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "qemu: $passed passed, $failed failed"
[ "$failed" = 0 ]
