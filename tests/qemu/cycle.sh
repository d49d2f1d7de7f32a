#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# Five real cycles — hibernate, power off, a fresh boot of the restore kernel,
# resume — of a 2-CPU, 1 GiB guest with 60 % of its memory in use (384 MiB of
# tmpfs data, a 256 MiB patterned process) and an ext4 file system on a
# second disk that a writer keeps appending fsync'ed records to.  After each
# resume the guest checks CPUs, data, process memory and counter; at the end
# the host runs fsck -n and checks every record, then boots the restore kernel
# once more: the image is consumed, so it must boot normally.  With
# khib.poison=1 on both kernels' command lines every page left out of the
# image as free is poisoned (by the transient kernel, and by the restore
# kernel before the jump), so a page wrongly left out corrupts the resumed
# guest; every save must have left some out.
set -eu
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
CYCLES=5

kernel='' initrd='' work=''  # set by scenario_setup (lib/common.sh)
scenario_setup
truncate -s 1G "$work/target.img"
truncate -s 64M "$work/data.img"
mkfs.ext4 -q -F "$work/data.img"
set -- -drive "file=$work/target.img,if=virtio,format=raw" -drive "file=$work/data.img,if=virtio,format=raw"

log "booting the guest; it hibernates"
run_guest "$work/boot.log" "$kernel" "$initrd" "khibtest.scenario=cycle khib.poison=1" "$@" || true
collect "$work/boot.log"
expect "$work/boot.log" "image saved: powering off" "cycle 1: transient kernel saved and powered off"
[ "$FAILED" = 0 ] || show_log "$work/boot.log"

i=1
while [ "$i" -le "$CYCLES" ]; do
    log "restore boot $i"
    run_guest "$work/restore$i.log" "$kernel" "$initrd" "$R_APPEND khib.poison=1 khibtest.scenario=restore-expected" \
        "$@" || true
    before=$FAILED
    collect "$work/restore$i.log"
    expect "$work/restore$i.log" "KHIBTEST: PASS cycle $i: process counter advancing" "cycle $i: resumed and verified"
    if [ "$i" -lt "$CYCLES" ]; then
        expect "$work/restore$i.log" "image saved: powering off" "cycle $((i + 1)): transient kernel saved and powered off"
    else
        expect "$work/restore$i.log" "KHIBTEST: DONE" "guest finished after $CYCLES cycles"
    fi
    [ "$FAILED" = "$before" ] || show_log "$work/restore$i.log"
    i=$((i + 1))
done

check_filesystem "$work/data.img"
cat "$work/boot.log" "$work"/restore*.log > "$work/all.log"
check_exclusion "$work/all.log" "$CYCLES" $((2 * CYCLES))

log "restore boot with the image consumed"
run_guest "$work/noimage.log" "$kernel" "$initrd" "$R_APPEND khibtest.scenario=noimage" "$@" || true
collect "$work/noimage.log"
expect "$work/noimage.log" "already restored" "restore kernel names the consumed image"
finish
