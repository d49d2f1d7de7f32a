# shellcheck shell=sh
# Guest side of tests/qemu/demo.sh: one hibernation with 60 % of memory in
# use and an ext4 file system mounted, verified after the resume.
start_record_writer
start_workload 384 256
echo "demo: hibernating"
if khib_hibernate; then
    result PASS "khib hibernate resumed and returned 0"
else
    result FAIL "khib hibernate exited $?"
fi
verify_resumed "after resume"
check "ext4 record writer still running" kill -0 "$WRITER_PID"
kill "$WRITER_PID"
wait "$WRITER_PID" 2>/dev/null
check "unmount the ext4 file system" umount /mnt
