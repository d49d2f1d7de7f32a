# shellcheck shell=sh
# Guest side of tests/qemu/disk-safety.sh part A (a) (sourced by guest.sh):
# a normal boot of the hibernated system's root disk, without retiring the
# image: the kernel mounted / read-write, and this writes a file on it.  The
# restore kernel must refuse the image afterwards.
# shellcheck disable=SC1091
. /test/ds-lib.sh
ds_root_setup
check "A(a): the normal boot has / (vda) read-write" root_rw
check "A(a): the normal boot wrote a file on the root" ds_write_root /written-after
check "A(a): / remounted read-only before the power-off" mount -o remount,ro /
