# shellcheck shell=sh
# Guest side of tests/qemu/disk-safety.sh part C (sourced by guest.sh): a
# normal boot (no khib.image= on its command line) that runs the
# distribution hook the way an initramfs would, with target= in its copy of
# khib.conf: the hook retires the image.  Then it writes to a disk.
# shellcheck disable=SC1091
. /test/ds-lib.sh
printf 'target=/dev/vda\n' > /tmp/khib.conf
ds_run env KHIB_CONF=/tmp/khib.conf KHIB_RESTORE="$(command -v khib-restore)" sh /test/khib-resume.sh
ds_expect "C: the hook on a normal boot" 0 "on /dev/vda abandoned: " "it will never be restored"
check "C: the image on /dev/vda is ABANDONED (khib-restore --info)" [ "$(ds_state /dev/vda)" = ABANDONED ]
write_ext4() {
    mkdir -p /mnt/ext4 && mount -t ext4 /dev/vdb /mnt/ext4 &&
        echo "written by a normal boot after the hook" > /mnt/ext4/touched && sync && umount /mnt/ext4
}
check "C: the normal boot mounted the ext4 (vdb) read-write and wrote to it" write_ext4
