#!/bin/sh
# Run the named QEMU scenarios one after another; print each one's output,
# a "KERNEL: N passed, N failed" line per test kernel, and a total
# "qemu: N passed, N failed" line last.  Exit non-zero if any scenario failed.
#
# Usage: run-all.sh SCENARIO[@KERNEL]...
#   e.g. run-all.sh roundtrip cycle cycle@7.2
# A scenario runs with KHIB_KERNEL=KERNEL (a recipe in tests/qemu/kernel/,
# docs/kernels.md); without @KERNEL, with $KHIB_KERNEL or 6.12.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/counts.sh
# shellcheck disable=SC1091 # followed by shellcheck -x
. "$here/../lib/counts.sh"
default=${KHIB_KERNEL:-6.12}
passed=0
failed=0
kernels=
for arg in "$@"; do
    case "$arg" in
        *@*) name=${arg%%@*} kernel=${arg#*@} ;;
        *) name=$arg kernel=$default ;;
    esac
    echo "=== tests/qemu/$name.sh (kernel $kernel)"
    start=$(date +%s)
    out=$(KHIB_KERNEL=$kernel "$here/$name.sh" 2>&1) && rc=0 || rc=$?
    printf '%s\n' "$out"
    echo "=== tests/qemu/$name.sh (kernel $kernel): $(($(date +%s) - start)) s"
    c=$(counts_of "$rc" "$out")
    p=${c% *} f=${c#* }
    passed=$((passed + p))
    failed=$((failed + f))
    # Per kernel: variables named by the kernel's position in $kernels.
    i=0 found=
    for k in $kernels; do
        i=$((i + 1))
        [ "$k" = "$kernel" ] && found=$i
    done
    if [ -z "$found" ]; then
        kernels="$kernels $kernel"
        found=$((i + 1))
        eval "kp_$found=0 kf_$found=0"
    fi
    eval "kp_$found=\$((kp_$found + p)) kf_$found=\$((kf_$found + f))"
done
i=0
for k in $kernels; do
    i=$((i + 1))
    eval "echo \"\$k: \$kp_$i passed, \$kf_$i failed\""
done
echo "qemu: $passed passed, $failed failed"
[ "$failed" = 0 ]
