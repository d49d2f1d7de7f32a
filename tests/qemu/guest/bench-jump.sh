# shellcheck shell=sh
# Guest side of bench/jump.sh (sourced by guest.sh): khibtest.rounds=N
# `khib hibernate --test` round trips at the window khibtest.window=SIZE,
# each marked on the serial console so that the host can cut it into
# phases.  kexec-tools runs with --console-serial (purgatory prints "I'm in
# purgatory" on ttyS0) and the transient kernel with earlyprintk (its first
# line comes as soon as its kernel parses the command line, not when the
# console driver registers).
rounds=30 window=192M io=
read -r cmdline < /proc/cmdline
for word in $cmdline; do
    case "$word" in
        khibtest.rounds=*) rounds=${word#*=} ;;
        khibtest.window=*) window=${word#*=} ;;
        khibtest.io=1) io=1 ;;
    esac
done
printf '#!/bin/sh\nexec /usr/sbin/kexec --console-serial --serial-baud=115200 "$@"\n' > /tmp/kexec-serial
chmod 755 /tmp/kexec-serial
start_workload 128 64
if [ -n "$io" ]; then
    # An fsync writer on vdb's ext4 across the jumps; each device's suspend
    # callback and its time on the console (kernel/power/main.c).
    start_record_writer
    echo 1 > /sys/power/pm_print_times
fi
echo "BENCH: workload ready"
i=0
ok=0
while [ "$i" -lt "$rounds" ]; do
    i=$((i + 1))
    echo "BENCH: round $i start"
    if khib_hibernate --test --window "$window" --kexec /tmp/kexec-serial \
        --append "earlyprintk=serial,ttyS0,115200 $POISON"; then
        ok=$((ok + 1))
    else
        echo "BENCH: round $i failed"
    fi
    echo "BENCH: round $i end"
done
check "$ok of $rounds round trips returned 0" [ "$ok" = "$rounds" ]
verify_resumed "after $rounds round trips"
