# shellcheck shell=sh
# Guest side of bench/qemu.sh, the kernel's own hibernation (sourced by
# guest.sh): the same workload as bench-khib.sh, swap on vdb (the kernel
# boots with resume=/dev/vdb), the kernel's defaults (image_size 2/5 of RAM,
# LZO compression) except that it powers off rather than entering ACPI S4.
if [ -b /dev/vdc ]; then
    start_workload 384 128 /dev/vdc
else
    start_workload 384 256
fi
mkswap /dev/vdb > /dev/null && swapon /dev/vdb || result FAIL "swapon /dev/vdb"
echo shutdown > /sys/power/disk
echo "BENCH: workload ready"
sleep "${BENCH_PAUSE:-8}"
echo "BENCH: hibernate"
if echo disk > /sys/power/state; then
    echo "BENCH: resumed"
    result PASS "kernel: resumed"
else
    result FAIL "kernel: echo disk > /sys/power/state failed"
fi
verify_resumed "kernel"
swapoff /dev/vdb
