# shellcheck shell=sh
# Guest side of tests/qemu/faults.sh (sourced by guest.sh): the normal boot
# of a restore kernel after the power cuts.  Every image the host attached
# past vdc (/dev/vdd on) is one whose save or restore was cut at a fault
# point; each is offered to khib-restore here exactly as /init offers
# khib.image= (--jump, then --abandon), so that this one boot of the restore
# kernel is "the next boot" of every one of them.  None may be restored: each
# must be "no committed image" or "already restored" (exit 10).  The host
# checks which message each device got.
for dev in /dev/vd[d-z]; do
    [ -b "$dev" ] || continue
    echo "cut-nextboot: offering $dev to khib-restore"
    khib-restore --image "$dev" --jump
    rc=$?
    khib-restore --image "$dev" --abandon "a normal boot started after the restore did not jump (khib-restore exit $rc)"
    check "next boot: $dev: khib-restore found nothing to restore (exit $rc)" [ "$rc" = 10 ]
done
