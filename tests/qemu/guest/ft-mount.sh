# shellcheck shell=sh
# Guest side of tests/qemu/file-target.sh: a normal boot after hibernation 3
# that mounts the xfs holding the image file read-write and writes to it,
# as a user booting another system would; it retires nothing.
mkdir -p /mnt
if mount -t xfs /dev/vdb /mnt && echo "written after the hibernation" > /mnt/after && sync && umount /mnt; then
    result PASS "a normal boot mounted the xfs holding the image file read-write and wrote to it"
else
    result FAIL "mount and write the xfs on /dev/vdb"
fi
