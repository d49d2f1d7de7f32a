# shellcheck shell=sh
# Guest side of tests/qemu/faults.sh (sourced by guest.sh): the system the
# power-loss and bad-image cases hibernate.  An ext4 file system on vdb with
# a record writer, tmpfs data and a patterned process; hibernate to vda,
# with khibtest.stop=POINT on our command line passed on to the transient
# kernel as khib.test.stop=POINT: khib-save stops at that fault point and
# the host cuts the power.  When a restore resumes us, verify, then
# hibernate again to vdc (for the "mounted since" case).
start_record_writer
start_workload 128 64
stop=
read -r words < /proc/cmdline
for word in $words; do
    case "$word" in khibtest.stop=*) stop=${word#*=} ;; esac
done
set --
[ -z "$stop" ] || set -- --append "khib.test.stop=$stop"
echo "faults: hibernating to /dev/vda${stop:+, the transient kernel stops at $stop}"
if khib_hibernate "$@"; then
    result PASS "8: resumed from /dev/vda after interrupted restores"
else
    result FAIL "8: khib hibernate to /dev/vda exited $?"
fi
verify_resumed "8 after the resume"
check "8: record writer still running" kill -0 "$WRITER_PID"
echo "faults: hibernating to /dev/vdc"
if khib hibernate --target /dev/vdc --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img; then
    result FAIL "14: resumed from /dev/vdc although its file system was mounted since"
else
    result FAIL "14: khib hibernate to /dev/vdc exited $?"
fi
