#!/bin/sh
# make bench-qemu: the same guest and workload hibernated and resumed by khib
# and by the kernel's own hibernation, each phase's wall time for both, and
# their ratio (a benchmark, not a test; docs/performance.md).
#
# Guest: the test kernel, 1 GiB, 2 CPUs, one of two workloads
# (KHIB_BENCH_QEMU_WORKLOAD):
#
#   random (default)  640 MiB: 384 MiB of random tmpfs data and a 256 MiB
#                     process of patterned (random-looking) memory: the
#                     cycle test's workload, incompressible, the worst case
#   files             512 MiB: the contents of real files in tmpfs (384 MiB of
#                     a tar of this machine's /usr/bin, /usr/lib/x86_64-linux-gnu
#                     and /usr/share/doc: executables, libraries, text) read
#                     from a third disk, vdc, and a 128 MiB patterned process
#
# Disks: vda a 1 GiB khib target, vdb a 2 GiB swap partition for the kernel
# (resume=/dev/vdb), vdc the files.  Times come from the host's clock on
# every serial line (tests/qemu/lib/common.sh):
#   hibernate   from the guest's "BENCH: hibernate" to QEMU's exit (power off)
#   resume      from the second QEMU's start to the guest's "BENCH: resumed"
#
# While khib's guest pauses before hibernating, its memory is dumped with
# QEMU's dump-guest-memory into $KHIB_CACHE/guest-memory-WORKLOAD.core, the
# real guest memory images bench/run.sh measures besides the generated core.
# Both resumed guests check their CPUs, data, process memory and counter.
# Then the scaling pair: khib alone, the same smaller workload (192 MiB of
# random tmpfs data and a 96 MiB process, about 300 MiB in use) in a 1 GiB
# and in a 4 GiB guest: the cost should follow what is used, not the RAM.
# The last lines: khib_total_vs_kernel=<khib's total / the kernel's total>,
# and scaling_4x=<khib's total at 4 GiB / at 1 GiB>.
#
# Environment: KHIB_BENCH_QEMU_REPS (default 1) runs of each, medians;
# KHIB_BENCH_QEMU_WORKLOAD (random or files); KHIB_BENCH_QEMU_SCALING (1,
# the default: run the scaling pair; 0: skip it; only: nothing else);
# KHIB_CACHE.
set -eu
KHIB_TOP=$(cd "$(dirname "$0")/.." && pwd)
QEMU_TIMEOUT=${QEMU_TIMEOUT:-900}
# shellcheck source=../tests/qemu/lib/common.sh
. "$KHIB_TOP/tests/qemu/lib/common.sh"
# shellcheck disable=SC2034 # the name common.sh puts in log lines
SCENARIO=bench-qemu
REPS=${KHIB_BENCH_QEMU_REPS:-1}
SCALING=${KHIB_BENCH_QEMU_SCALING:-1}
WORKLOAD=${KHIB_BENCH_QEMU_WORKLOAD:-random}
case $WORKLOAD in
random | files) ;;
*) echo "bench-qemu: KHIB_BENCH_QEMU_WORKLOAD must be random or files, not '$WORKLOAD'" >&2; exit 1 ;;
esac

kernel=$(test_kernel 6.12)
initrd=$(guest_initrd "$kernel")
work=$(mktemp -d "${TMPDIR:-/tmp}/khib-bench-qemu.XXXXXX")
trap 'rm -rf "$work"' EXIT

# span LOG FROM LOG2 TO: seconds from the first FROM in LOG to the first TO
# in LOG2, or "-" when either is missing.
span() {
    a=$(at "$1" "$2")
    b=$(at "$3" "$4")
    if [ -n "$a" ] && [ -n "$b" ]; then awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f\n", b - a }'; else echo -; fi
}

median() {   # median of the numbers on stdin ("-" when any is missing)
    sort -n | awk '/^-$/ { bad = 1 } { v[NR] = $1 } END { if (bad || !NR) print "-"; else print v[int((NR + 1) / 2)] }'
}

disks() {
    truncate -s 0 "$work/target.img" "$work/swap.img" 2>/dev/null || true
    truncate -s 1G "$work/target.img"
    truncate -s 2G "$work/swap.img"
    echo "-drive file=$work/target.img,if=virtio,format=raw -drive file=$work/swap.img,if=virtio,format=raw"
    # The guest loads the files workload when it finds vdc.
    [ "$WORKLOAD" = random ] || echo "-drive file=$work/files.img,if=virtio,format=raw,readonly=on"
}

if [ "$WORKLOAD" = files ]; then
    # The first 384 MiB of a tar of real files, in the same order on every
    # run (what is missing on this machine is left out).
    tar --sort=name -cf - -C / usr/bin usr/lib/x86_64-linux-gnu usr/share/doc 2>/dev/null |
        head -c $((384 << 20)) > "$work/files.img" || true
    truncate -s %1M "$work/files.img"
    files_mib=$(($(stat -c %s "$work/files.img") >> 20))
    [ "$files_mib" -ge 64 ] || { echo "bench-qemu: only $files_mib MiB of files under /usr to load the guest with" >&2; exit 1; }
    in_use="$((files_mib + 128)) MiB in use ($files_mib MiB of files, 128 MiB of process memory)"
else
    in_use="640 MiB in use (384 MiB of random data, 256 MiB of process memory)"
fi

# The khib cycle of run $1; its memory dump on the first run.
run_khib() {
    d=$(disks)
    rm -f "$work/qmp"
    # shellcheck disable=SC2086
    run_guest "$work/khib$1-a.log" "$kernel" "$initrd" "khibtest.scenario=bench-khib" $d \
        -qmp "unix:$work/qmp,server=on,wait=off" &
    pid=$!
    if [ "$1" = 1 ]; then
        tries=0
        until grep -qF "BENCH: workload ready" "$work/khib$1-a.log" 2>/dev/null || [ "$tries" -ge 3000 ]; do
            sleep 0.1
            tries=$((tries + 1))
        done
        if qmp "$work/qmp" '{"execute":"qmp_capabilities"}' \
            "{\"execute\":\"dump-guest-memory\",\"arguments\":{\"paging\":false,\"protocol\":\"file:$work/guest.core\"}}"; then
            mkdir -p "$KHIB_CACHE"
            dump=$KHIB_CACHE/guest-memory-$WORKLOAD.core
            mv "$work/guest.core" "$dump"
            log "guest memory dumped to $dump ($(du -m "$dump" | cut -f1) MiB)"
        else
            log "could not dump the guest's memory (bench/run.sh measures the generated core only)"
        fi
    fi
    wait "$pid" || true
    # shellcheck disable=SC2086
    run_guest "$work/khib$1-r.log" "$kernel" "$initrd" "$R_APPEND khibtest.scenario=restore-expected" $d || true
}

run_kernel() {
    d=$(disks)
    # shellcheck disable=SC2086
    run_guest "$work/kernel$1-a.log" "$kernel" "$initrd" "resume=/dev/vdb khibtest.scenario=bench-kernel" $d || true
    # shellcheck disable=SC2086
    run_guest "$work/kernel$1-r.log" "$kernel" "$initrd" "resume=/dev/vdb khibtest.scenario=restore-expected" \
        $d || true
}

# khib_phases A_LOG R_LOG: khib's phases, a line each: jump + transient
# kernel boot, save, power off, restore kernel boot, restore, jump back and
# resume (span sets a and b: pass no variable of those names).
khib_phases() {
    span "$1" "BENCH: hibernate" "$1" "khib-init: transient kernel"
    span "$1" "khib-init: transient kernel" "$1" "image saved: powering off"
    span "$1" "image saved: powering off" "$1" "qemu exit"
    span "$2" "qemu start" "$2" "khib-init: restore kernel"
    span "$2" "khib-init: restore kernel" "$2" "khib-restore: jumping"
    span "$2" "khib-restore: jumping" "$2" "BENCH: resumed"
}

# col FILEPREFIX LINE: the median over the runs of line LINE of FILEPREFIX$i.
col() {
    j=1
    while [ "$j" -le "$REPS" ]; do
        sed -n "$2p" "$1$j"
        j=$((j + 1))
    done | median
}

# The scaling pair: khib with the small workload in a 1 GiB and a 4 GiB
# guest, REPS runs each, medians.
scaling_pair() {
    for mem in 1 4; do
        i=1
        while [ "$i" -le "$REPS" ]; do
            log "scaling pair: ${mem} GiB guest, run $i of $REPS"
            d=$(disks)
            # shellcheck disable=SC2086
            GUEST_MEM=${mem}G run_guest "$work/scale$mem-$i-a.log" "$kernel" "$initrd" \
                "khibtest.scenario=bench-khib khibtest.bench=small" $d || true
            # shellcheck disable=SC2086
            GUEST_MEM=${mem}G run_guest "$work/scale$mem-$i-r.log" "$kernel" "$initrd" \
                "$R_APPEND khibtest.scenario=restore-expected" $d || true
            # (not a and r: span sets those)
            sa=$work/scale$mem-$i-a.log sr=$work/scale$mem-$i-r.log
            collect "$sa" > /dev/null
            collect "$sr" > "$work/scale$mem-$i.results"
            grep -q '^FAIL' "$work/scale$mem-$i.results" &&
                { echo "bench-qemu: the ${mem} GiB guest did not resume correctly:"; cat "$work/scale$mem-$i.results"; show_log "$sr"; }
            {
                span "$sa" "BENCH: hibernate" "$sa" "qemu exit"
                span "$sr" "qemu start" "$sr" "BENCH: resumed"
                khib_phases "$sa" "$sr"
            } > "$work/scale$mem.times$i"
            i=$((i + 1))
        done
    done
    echo
    i=1
    while [ "$i" -le "$REPS" ]; do
        for mem in 1 4; do
            l=$work/scale$mem-$i-a.log
            img=$(sed -n 's/.*MiB of memory in \([0-9.]*\) MiB.*/\1/p' "$l" | head -n 1)
            ex=$(tr -d '\r' < "$l" | sed -n 's/.*khib-save: excluded [0-9]* free pages (\([0-9]*\) MiB).*/\1/p' | head -n 1)
            printf '  scaling run %d, %d GiB: image %s MiB, %s MiB of free pages excluded\n' "$i" "$mem" "${img:--}" "${ex:--}"
        done
        i=$((i + 1))
    done
    echo "QEMU TCG, 2 CPUs, khib only, the same workload (192 MiB of random tmpfs data, a 96 MiB process);"
    echo "wall seconds, median of $REPS run(s)"
    printf '%-44s %10s %10s\n' "phase" "1 GiB" "4 GiB"
    n=1
    for name in "hibernate (command to power off)" "resume (power on to running)" "  jump + transient kernel boot" "  save" \
        "  power off" "  restore kernel boot" "  restore" "  jump back, resume"; do
        printf '%-44s %10s %10s\n' "$name" "$(col "$work/scale1.times" "$n")" "$(col "$work/scale4.times" "$n")"
        n=$((n + 1))
    done
    awk -v a1="$(col "$work/scale1.times" 1)" -v b1="$(col "$work/scale1.times" 2)" \
        -v a4="$(col "$work/scale4.times" 1)" -v b4="$(col "$work/scale4.times" 2)" 'BEGIN {
        if (a1 == "-" || b1 == "-" || a4 == "-" || b4 == "-") { print "scaling_4x=-"; exit }
        printf "%-44s %10.1f %10.1f\n", "total", a1 + b1, a4 + b4
        printf "scaling_4x=%.2f\n", (a4 + b4) / (a1 + b1) }'
}

if [ "$SCALING" = only ]; then
    scaling_pair
    exit 0
fi

i=1
while [ "$i" -le "$REPS" ]; do
    log "run $i of $REPS: khib"
    run_khib "$i"
    log "run $i of $REPS: the kernel's hibernation"
    run_kernel "$i"
    for m in khib kernel; do
        a=$work/$m$i-a.log r=$work/$m$i-r.log
        collect "$a" > /dev/null
        collect "$r" > "$work/$m$i.results"
        grep -q '^FAIL' "$work/$m$i.results" && { echo "bench-qemu: $m run $i did not resume correctly:"; cat "$work/$m$i.results"; show_log "$r"; }
        {
            span "$a" "BENCH: hibernate" "$a" "qemu exit"
            span "$r" "qemu start" "$r" "BENCH: resumed"
        } > "$work/$m.times$i"
    done
    khib_phases "$work/khib$i-a.log" "$work/khib$i-r.log" > "$work/phases$i"
    i=$((i + 1))
done


kh=$(col "$work/khib.times" 1)
kr=$(col "$work/khib.times" 2)
nh=$(col "$work/kernel.times" 1)
nr=$(col "$work/kernel.times" 2)

echo
# Every khib run's image: its size depends on how many chunks level auto
# stored uncompressed.
i=1
while [ "$i" -le "$REPS" ]; do
    l=$work/khib$i-a.log
    img=$(sed -n 's/.*MiB of memory in \([0-9.]*\) MiB.*/\1/p' "$l" | head -n 1)
    st=$(sed -n 's/.*stored in \([0-9]*\) chunks (\([0-9]*\) of them uncompressed).*/\2 of \1/p' "$l" | head -n 1)
    printf '  khib run %d: image %s MiB, %s chunks stored uncompressed\n' "$i" "${img:--}" "${st:--}"
    i=$((i + 1))
done
echo "QEMU TCG, 1 GiB, 2 CPUs, workload $WORKLOAD: $in_use; wall seconds, median of $REPS run(s)"
printf '%-44s %10s %10s\n' "phase" "khib" "kernel"
printf '%-44s %10s %10s\n' "hibernate (command to power off)" "$kh" "$nh"
printf '%-44s %10s %10s\n' "  jump + transient kernel boot" "$(col "$work/phases" 1)" ""
printf '%-44s %10s %10s\n' "  save" "$(col "$work/phases" 2)" ""
printf '%-44s %10s %10s\n' "  power off" "$(col "$work/phases" 3)" ""
printf '%-44s %10s %10s\n' "resume (power on to running)" "$kr" "$nr"
printf '%-44s %10s %10s\n' "  restore kernel boot" "$(col "$work/phases" 4)" ""
printf '%-44s %10s %10s\n' "  restore" "$(col "$work/phases" 5)" ""
printf '%-44s %10s %10s\n' "  jump back, resume" "$(col "$work/phases" 6)" ""
awk -v kh="$kh" -v kr="$kr" -v nh="$nh" -v nr="$nr" 'BEGIN {
    if (kh == "-" || kr == "-" || nh == "-" || nr == "-") { print "khib_total_vs_kernel=-"; exit }
    printf "%-44s %10.1f %10.1f\n", "total", kh + kr, nh + nr
    printf "khib_total_vs_kernel=%.2f khib_hibernate_vs_kernel=%.2f khib_resume_vs_kernel=%.2f\n",
        (kh + kr) / (nh + nr), kh / nh, kr / nr }'

[ "$SCALING" = 0 ] || scaling_pair
