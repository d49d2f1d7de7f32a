#!/bin/sh
# make check-unit: every C unit test (build/tests/test_*) and the shell
# scenarios; prints each one's result and a total "N passed, N failed".
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/lib/counts.sh
# shellcheck disable=SC1091 # followed by shellcheck -x
. "$root/tests/lib/counts.sh"
passed=0
failed=0
start=$(date +%s)

run() {   # run NAME COMMAND...
    name=$1
    shift
    out=$("$@" 2>&1) && rc=0 || rc=$?
    c=$(counts_of "$rc" "$out")
    p=${c% *} f=${c#* }
    passed=$((passed + p))
    failed=$((failed + f))
    echo "$name: $p passed, $f failed"
    if [ "$f" != 0 ]; then
        printf '%s\n' "$out" | sed 's/^/    /'
    else
        # Informative lines (throughput) go through; the counts line does not.
        printf '%s\n' "$out" | grep -E '^(big round trip|bit flips|encrypted|in clear|khib-(save|restore): (using|saved|restored|pages|time))' |
            sed 's/^/    /' || true
    fi
}

for t in "$root"/build/tests/test_*; do
    run "$(basename "$t")" "$t"
done
run scenarios sh "$here/scenarios.sh"
run encryption sh "$here/encryption.sh"
run file-target sh "$here/file-target.sh"
run hooks sh "$here/hooks.sh"
run systemd sh "$here/systemd.sh"
run grub sh "$here/grub.sh"
run deb sh "$here/deb.sh"
run rescue sh "$here/rescue.sh"
echo "unit tests took $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
