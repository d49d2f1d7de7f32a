# shellcheck shell=sh
# Guest side of bench/qemu.sh, khib's run (sourced by guest.sh): the bench
# workload (with a disk vdc, the files workload: 384 MiB of real files read
# from it into tmpfs and a 128 MiB patterned process; without, the random
# one: 384 MiB of random tmpfs data and a 256 MiB patterned process), a pause
# in which the host may dump the guest's memory, then a real hibernation.
# The BENCH lines mark the phases on the serial console.  With
# khibtest.bench=small, the scaling pair's smaller workload.
# khibtest.bench=small (bench/qemu.sh's scaling pair): 192 MiB of random
# tmpfs data and a 96 MiB process, about 300 MiB in use with the kernel's.
case " $(cat /proc/cmdline) " in *" khibtest.bench=small "*) BENCH_SMALL=1 ;; *) BENCH_SMALL=0 ;; esac
if [ "$BENCH_SMALL" = 1 ]; then
    start_workload 192 96
elif [ -b /dev/vdc ]; then
    start_workload 384 128 /dev/vdc
else
    start_workload 384 256
fi
echo "BENCH: workload ready"
sleep "${BENCH_PAUSE:-8}"
echo "BENCH: hibernate"
if khib_hibernate; then
    echo "BENCH: resumed"
    result PASS "khib: resumed"
else
    result FAIL "khib hibernate exited $?"
fi
verify_resumed "khib"
