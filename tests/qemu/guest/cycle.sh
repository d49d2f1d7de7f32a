# shellcheck shell=sh
# Guest side of tests/qemu/cycle.sh (sourced by guest.sh): five real cycles,
# hibernate -> power off -> restore boot -> resume, with 60 % of memory in
# use and an ext4 file system being written; each resume verified.
start_record_writer
start_workload 384 256
free -m
for cycle in 1 2 3 4 5; do
    echo "cycle: hibernating ($cycle)"
    if khib_hibernate; then
        result PASS "cycle $cycle: khib hibernate resumed and returned 0"
    else
        result FAIL "cycle $cycle: khib hibernate exited $?"
    fi
    verify_resumed "cycle $cycle"
    check "cycle $cycle: record writer still running" kill -0 "$WRITER_PID"
done
kill "$WRITER_PID"
wait "$WRITER_PID" 2>/dev/null
check "unmount /mnt after the last cycle" umount /mnt
