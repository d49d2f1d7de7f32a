#!/bin/sh
# make check-unit: every C unit test (build/tests/test_*) and the shell
# scenarios; prints each one's result and a total "N passed, N failed".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
passed=0
failed=0
start=$(date +%s)

run() {   # run NAME COMMAND...
    name=$1
    shift
    out=$("$@" 2>&1) && rc=0 || rc=$?
    counts=$(printf '%s\n' "$out" | tail -n 1)
    p=$(echo "$counts" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$counts" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        p=0
        f=1
    fi
    [ "$rc" = 0 ] || [ "$f" != 0 ] || f=1
    passed=$((passed + p))
    failed=$((failed + f))
    echo "$name: $p passed, $f failed"
    if [ "$f" != 0 ]; then
        printf '%s\n' "$out" | sed 's/^/    /'
    else
        # Informative lines (throughput) go through; the counts line does not.
        printf '%s\n' "$out" | grep -E '^(big round trip|khib-(save|restore): (using|saved|restored|pages|time))' |
            sed 's/^/    /' || true
    fi
}

for t in "$root"/build/tests/test_*; do
    run "$(basename "$t")" "$t"
done
run scenarios sh "$here/scenarios.sh"
run hooks sh "$here/hooks.sh"
run systemd sh "$here/systemd.sh"
run grub sh "$here/grub.sh"
run deb sh "$here/deb.sh"
echo "unit tests took $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
