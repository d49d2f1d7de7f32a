# shellcheck shell=sh
# Guest side of tests/qemu/disk-safety.sh part A (sourced by guest.sh): a
# system booted without an initramfs from an ext4 root disk (vda, shown as
# /dev/root in /proc/mounts), hibernating to vdb.  khib check must find the
# root by its device number; after the resume (part A (b)) verify the
# workload, write on the root and leave it clean (read-only) for the host's
# fsck.
# shellcheck disable=SC1091
. /test/ds-lib.sh
ds_root_setup
check "A: / is the ext4 root disk, mounted read-write by the kernel (no initramfs)" root_rw
printf 'target=/dev/vdb\n' > /etc/khib.conf
ds_write_root /before-hibernation
start_workload 128 64
ds_run khib check --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img
ds_expect "A: khib check with the root on /dev/root" 0 "PASS  file system / (ext4 on vda)"
echo "ds-root: hibernating to /dev/vdb"
if khib hibernate --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img; then
    result PASS "A(b): khib hibernate resumed and returned 0"
else
    result FAIL "A(b): khib hibernate exited $?"
fi
verify_resumed "A(b) after the resume"
check "A(b): / still mounted read-write after the resume" root_rw
check "A(b): the file written before the hibernation is there" [ -f /before-hibernation ]
check "A(b): no file of a normal boot on the root" [ ! -e /written-after ]
check "A(b): a file written on the root after the resume" ds_write_root /after-resume
kill "$TESTLOAD_PID"
wait "$TESTLOAD_PID" 2>/dev/null
check "A(b): / remounted read-only before the power-off" mount -o remount,ro /
