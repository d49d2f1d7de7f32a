#!/bin/sh
# Run the named QEMU scenarios one after another; print each one's output,
# a "KERNEL: N passed, N failed" line per test kernel, and a total
# "qemu: N passed, N failed" line last.  Exit non-zero if any scenario failed.
#
# Usage: run-all.sh SCENARIO[@KERNEL][+]...
#   e.g. run-all.sh roundtrip cycle cycle@7.2
# A scenario runs with KHIB_KERNEL=KERNEL (a recipe in tests/qemu/kernel/,
# docs/kernels.md); without @KERNEL, with $KHIB_KERNEL or 6.12.
# NAME+ starts NAME in the background, beside the scenarios after it: a
# scenario of one guest leaves part of the host's two CPUs idle (its boots
# and waits), which another guest's can use.  Its output is printed and
# counted after the last of the others.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/counts.sh
# shellcheck disable=SC1091 # followed by shellcheck -x
. "$here/../lib/counts.sh"
default=${KHIB_KERNEL:-6.12}
passed=0
failed=0
kernels=
bg=$(mktemp -d)
trap 'rm -rf "$bg"' EXIT

# account NAME KERNEL RC OUTPUT SECONDS: print a scenario's output and add
# its counts to the total and to its kernel's.
account() {
    printf '%s\n' "$4"
    echo "=== tests/qemu/$1.sh (kernel $2): $5 s"
    c=$(counts_of "$3" "$4")
    p=${c% *} f=${c#* }
    passed=$((passed + p))
    failed=$((failed + f))
    # Per kernel: variables named by the kernel's position in $kernels.
    i=0 found=
    for k in $kernels; do
        i=$((i + 1))
        [ "$k" = "$2" ] && found=$i
    done
    if [ -z "$found" ]; then
        kernels="$kernels $2"
        found=$((i + 1))
        eval "kp_$found=0 kf_$found=0"
    fi
    eval "kp_$found=\$((kp_$found + p)) kf_$found=\$((kf_$found + f))"
}

background=
for arg in "$@"; do
    later=
    case "$arg" in *+) later=1 arg=${arg%+} ;; esac
    case "$arg" in
        *@*) name=${arg%%@*} kernel=${arg#*@} ;;
        *) name=$arg kernel=$default ;;
    esac
    start=$(date +%s)
    if [ -n "$later" ]; then
        echo "=== tests/qemu/$name.sh (kernel $kernel): started beside the scenarios after it"
        (rc=0; KHIB_KERNEL=$kernel "$here/$name.sh" > "$bg/$name@$kernel.out" 2>&1 || rc=$?
            echo "$rc $start $(date +%s)" > "$bg/$name@$kernel.rc") &
        background="$background $name@$kernel"
        continue
    fi
    echo "=== tests/qemu/$name.sh (kernel $kernel)"
    out=$(KHIB_KERNEL=$kernel "$here/$name.sh" 2>&1) && rc=0 || rc=$?
    account "$name" "$kernel" "$rc" "$out" "$(($(date +%s) - start))"
done
wait
for b in $background; do
    echo "=== tests/qemu/${b%@*}.sh (kernel ${b#*@}), started beside the others"
    read -r rc start end < "$bg/$b.rc" || { rc=1 start=0 end=0; }
    account "${b%@*}" "${b#*@}" "$rc" "$(cat "$bg/$b.out")" "$((end - start))"
done
i=0
for k in $kernels; do
    i=$((i + 1))
    eval "echo \"\$k: \$kp_$i passed, \$kf_$i failed\""
done
echo "qemu: $passed passed, $failed failed"
[ "$failed" = 0 ]
