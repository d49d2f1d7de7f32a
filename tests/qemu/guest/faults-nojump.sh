# shellcheck shell=sh
# Guest side of tests/qemu/faults.sh, case 1 (sourced by guest.sh): Debian's
# own kernel, built without CONFIG_KEXEC_JUMP.  `khib check` and `khib
# hibernate` must both name the option, and nothing may be written to the
# target.  Its disks need the virtio modules of its overlay
# (tests/qemu/kernel/stock.sh), loaded in the order of their names.
for m in /test/modules/*.ko; do
    insmod "$m" || result FAIL "1: insmod $m"
done
n=0
while [ ! -b /dev/vda ] && [ "$n" -lt 50 ]; do
    sleep 0.1
    n=$((n + 1))
done
check "1: the target /dev/vda appeared" [ -b /dev/vda ]
khib check --target /dev/vda --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img \
    > /tmp/out 2>&1 && rc=0 || rc=$?
cat /tmp/out
if [ "$rc" = 3 ] && grep -q 'FAIL  kernel lacks CONFIG_KEXEC_JUMP=y' /tmp/out; then
    result PASS "1: khib check fails, naming CONFIG_KEXEC_JUMP"
else
    result FAIL "1: khib check exit $rc, output: $(tr '\n' ' ' < /tmp/out)"
fi
# Debian's kernel also restricts /dev/mem (CONFIG_STRICT_DEVMEM=y).
check "1: khib check also names CONFIG_STRICT_DEVMEM" grep -q 'FAIL  kernel has CONFIG_STRICT_DEVMEM' /tmp/out
khib_hibernate > /tmp/out 2>&1 && rc=0 || rc=$?
cat /tmp/out
if [ "$rc" = 3 ] && grep -q 'kernel lacks CONFIG_KEXEC_JUMP=y' /tmp/out &&
    grep -q 'not hibernating' /tmp/out; then
    result PASS "1: khib hibernate refuses (exit 3), naming CONFIG_KEXEC_JUMP"
else
    result FAIL "1: khib hibernate exit $rc, output: $(tr '\n' ' ' < /tmp/out)"
fi
khib-restore --image /dev/vda --info > /tmp/out 2>&1 && rc=0 || rc=$?
check "1: nothing was written to the target" [ "$rc" = 10 ]
