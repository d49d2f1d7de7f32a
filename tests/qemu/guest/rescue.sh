# shellcheck shell=sh
# Guest side of tests/qemu/rescue-stick.sh: the installed system, booted by
# the rescue stick's "Boot the installed system" (GRUB, this disk's
# grub.cfg).  It names itself after its firmware, so that the stick's list
# shows which image is whose, hibernates once with memory in use and an ext4
# file system being written, and is verified after the stick resumed it.
if [ -d /sys/firmware/efi ]; then host=khib-uefi; else host=khib-bios; fi
hostname "$host"
echo "rescue: installed system up as $host"
start_record_writer
start_workload 128 96
if khib_hibernate; then
    result PASS "$host: khib hibernate resumed and returned 0"
else
    result FAIL "$host: khib hibernate exited $?"
fi
verify_resumed "$host"
check "$host: record writer still running" kill -0 "$WRITER_PID"
kill "$WRITER_PID"
wait "$WRITER_PID" 2>/dev/null
check "$host: unmount /mnt" umount /mnt
