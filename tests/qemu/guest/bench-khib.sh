# shellcheck shell=sh
# Guest side of bench/qemu.sh, khib's run (sourced by guest.sh): the cycle
# workload (384 MiB of tmpfs data, a 256 MiB patterned process), a pause in
# which the host may dump the guest's memory, then a real hibernation.  The
# BENCH lines mark the phases on the serial console.
start_workload 384 256
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
