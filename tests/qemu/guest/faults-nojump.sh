# shellcheck shell=sh
# Guest side of tests/qemu/faults.sh, case 1 (sourced by guest.sh): a kernel
# built without CONFIG_KEXEC_JUMP.  `khib check` and `khib hibernate` must
# both name the option, and nothing may be written to the target.
khib check --target /dev/vda --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img \
    > /tmp/out 2>&1 && rc=0 || rc=$?
cat /tmp/out
if [ "$rc" = 3 ] && grep -q 'FAIL  kernel lacks CONFIG_KEXEC_JUMP=y' /tmp/out; then
    result PASS "1: khib check fails, naming CONFIG_KEXEC_JUMP"
else
    result FAIL "1: khib check exit $rc, output: $(tr '\n' ' ' < /tmp/out)"
fi
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
