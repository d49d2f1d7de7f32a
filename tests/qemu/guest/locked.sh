# shellcheck shell=sh
# Normal boot after an encrypted image stayed locked (tests/qemu/encrypt.sh):
# the image must still be COMMITTED, for the next boot.
if khib-restore --image /dev/vda --info | grep -q '^state: *COMMITTED'; then
    result PASS "locked: the image is still COMMITTED after the normal boot"
else
    result FAIL "locked: the image is not COMMITTED any more: $(khib-restore --image /dev/vda --info | grep '^state')"
fi
