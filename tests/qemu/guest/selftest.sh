# shellcheck shell=sh
# Scenario "selftest" (tests/qemu/selftest-kexec.sh): the kernel's own
# kexec-jump selftest, tools/testing/selftests/kexec/test_kexec_jump.sh, run
# from /selftest/VARIANT (khibtest.selftest=VARIANT; appended to the guest
# initramfs by the host script).  The program kexec-jumps twice into a few
# bytes of purgatory at 0x400000 and expects reboot() to return both times.
variant=
read -r st_cmdline < /proc/cmdline
for word in $st_cmdline; do
    case "$word" in khibtest.selftest=*) variant=${word#*=} ;; esac
done
echo "selftest: kernel $(uname -r), variant '$variant'"
if [ -n "$variant" ] && [ -x "/selftest/$variant/test_kexec_jump" ]; then
    st=0
    (cd "/selftest/$variant" && sh ./test_kexec_jump.sh) > /tmp/selftest.out 2>&1 || st=$?
    sed 's/^/selftest: /' /tmp/selftest.out
    last=$(tail -n 1 /tmp/selftest.out)
    case "$st" in
        0) result PASS "test_kexec_jump ($variant) on $(uname -r): $last" ;;
        4) result FAIL "test_kexec_jump ($variant) on $(uname -r) skipped: $last" ;;
        *) result FAIL "test_kexec_jump ($variant) on $(uname -r): exit $st: $last" ;;
    esac
    check "all CPUs online after the selftest's two jumps" all_cpus_online
else
    result FAIL "no selftest variant '$variant' in /selftest"
fi
