# shellcheck shell=sh
# Guest side of tests/qemu/disk-safety.sh part B (sourced by guest.sh): a
# normal boot after the hibernation that mounts one file system of the saved
# system read-write (khibtest.fs=TYPE), writes a file and unmounts it,
# without retiring the image.  The restore kernel must refuse afterwards.
# shellcheck disable=SC1091
. /test/ds-lib.sh
t=$(ds_arg khibtest.fs || echo none)
dev=$(ds_dev "$t")
touch_fs() {
    mkdir -p "/mnt/$t" && mount -t "$t" "$dev" "/mnt/$t" &&
        echo "written by a normal boot after the hibernation" > "/mnt/$t/touched" && sync && umount "/mnt/$t"
}
check "touch: a normal boot mounted $t ($dev) read-write, wrote a file and unmounted it" touch_fs
