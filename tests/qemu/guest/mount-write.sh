# shellcheck shell=sh
# Guest side of tests/qemu/faults.sh, case 14 (sourced by guest.sh): a normal
# boot after a hibernation that mounts the saved system's ext4 file system
# read-write and writes to it, as a user booting the wrong entry would.
mkdir -p /mnt
if mount -t ext4 /dev/vdb /mnt && echo "written after the hibernation" > /mnt/after && sync && umount /mnt; then
    result PASS "14: a normal boot mounted /dev/vdb read-write and wrote to it"
else
    result FAIL "14: mount and write /dev/vdb"
fi
