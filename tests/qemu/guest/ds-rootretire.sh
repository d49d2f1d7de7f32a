# shellcheck shell=sh
# Guest side of tests/qemu/disk-safety.sh part A (c) (sourced by guest.sh):
# a normal boot of the hibernated system's root disk that first retires the
# image, as a systemd unit would before anything writes (khib retire: the
# target from /etc/khib.conf, which the hibernated system wrote), then
# writes on the root.  The restore kernel must then find the image abandoned.
# shellcheck disable=SC1091
. /test/ds-lib.sh
ds_root_setup
ds_run khib retire --reason "disk-safety: the root disk booted normally"
ds_expect "A(c): khib retire" 0 "on /dev/vdb abandoned: disk-safety: the root disk booted normally"
check "A(c): the image on /dev/vdb is ABANDONED (khib-restore --info)" [ "$(ds_state /dev/vdb)" = ABANDONED ]
ds_run khib-restore --image /dev/vdb --abandon "a second time"
if [ "$DS_RC" = 10 ] && [ ! -s "$DS_OUT" ]; then
    result PASS "A(c): a second --abandon finds no committed image: exit 10, silent"
else
    result FAIL "A(c): a second --abandon: exit $DS_RC (want 10), output: $(ds_output)"
fi
check "A(c): the normal boot wrote a file on the root" ds_write_root /written-after
check "A(c): / remounted read-only before the power-off" mount -o remount,ro /
