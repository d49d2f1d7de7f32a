#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# Suspend-to-both (docs/hybrid.md): khib hibernate --hybrid in a guest whose
# firmware offers S3 (-global PIIX4_PM.disable_s3=0), with the workload of
# cycle.sh (tmpfs data, a patterned process, an ext4 record writer).
#   boot 1  hybrid 1: the transient kernel saves, commits and sleeps; the
#           host sees QEMU "suspended" and wakes it (QMP system_wakeup);
#           the transient kernel retires the image and jumps back: the
#           guest verifies everything and the image ABANDONED; hybrid 2:
#           saved and asleep again, the host cuts the power;
#   boot 2  the restore kernel resumes the system from the image of
#           hybrid 2, which verifies everything again.
# Then fsck -n and the records on the host; the phase times of the wake.
set -eu
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

kernel='' initrd='' work=''  # set by scenario_setup (lib/common.sh)
scenario_setup
truncate -s 1G "$work/target.img"
truncate -s 64M "$work/data.img"
mkfs.ext4 -q -F "$work/data.img"
set -- -drive "file=$work/target.img,if=virtio,format=raw" -drive "file=$work/data.img,if=virtio,format=raw" \
    -global PIIX4_PM.disable_s3=0
sock=$work/a.qmp
A=$work/a.log

# asleep N: the transient kernel's Nth suspend (its kernel's line: khib-save's
# own may be cut by the kernel's on the serial console), and QEMU in state
# suspended.
asleep() {
    wait_line "$A" "PM: suspend entry (deep)" "$qpid" 600 "$1" || return 1
    n=0
    while [ "$(qmp_status "$sock" 2>/dev/null)" != suspended ]; do
        n=$((n + 1))
        [ "$n" -le 150 ] && kill -0 "$qpid" 2>/dev/null || return 1
        sleep 0.2
    done
}

log "boot 1: hybrid 1 woken, hybrid 2 cut"
rm -f "$A.pid"
run_guest "$A" "$kernel" "$initrd" "khibtest.scenario=hybrid" "$@" -qmp "unix:$sock,server=on,wait=off" \
    -pidfile "$A.pid" &
qpid=$!
if asleep 1; then
    pass "hybrid 1: the transient kernel saved, then QEMU reports the guest suspended (S3)"
    sleep 2
    stamp "host: system_wakeup" >> "$A"
    qmp "$sock" '{"execute":"qmp_capabilities"}' '{"execute":"system_wakeup"}' ||
        fail "hybrid 1: QMP system_wakeup"
    if asleep 2; then
        pass "hybrid 2: saved and suspended again"
        sleep 2
        stamp "host: power cut during the sleep" >> "$A"
        kill -KILL "$(cat "$A.pid")" || fail "hybrid 2: cut the power"
    else
        fail "hybrid 2: the guest never slept a second time"
    fi
else
    fail "hybrid 1: the guest never slept (no 'suspending to RAM', or QEMU not suspended)"
fi
wait "$qpid" || true
before=$FAILED
collect "$A"
expect "$A" "ACPI: PM: Waking up from system sleep state S3" "hybrid 1: the transient kernel woke through S3's resume path"
[ "$FAILED" = "$before" ] || show_log "$A"

log "boot 2: the restore kernel after the power cut"
run_guest "$work/r.log" "$kernel" "$initrd" "$R_APPEND khibtest.scenario=restore-expected" "$@" || true
before=$FAILED
collect "$work/r.log"
expect "$work/r.log" "khib-restore: jumping into the restored system" "hybrid 2: R restored the image saved before the sleep"
expect "$work/r.log" "KHIBTEST: DONE" "the guest finished"
[ "$FAILED" = "$before" ] || show_log "$work/r.log"
check_filesystem "$work/data.img"

echo
echo "Phases of the woken suspend-to-both (host wall time):"
phase "prepare + jump + B boot" "$(at "$A" "khib: hibernating")" "$(at "$A" "khib-init: transient kernel")"
phase "save and commit" "$(at "$A" "khib-init: transient kernel")" "$(at "$A" "PM: suspend entry (deep)")"
phase "suspended (host waits 2 s)" "$(at "$A" "PM: suspend entry (deep)")" "$(at "$A" "host: system_wakeup")"
phase "wake -> B resumed" "$(at "$A" "host: system_wakeup")" "$(at "$A" "PM: suspend exit")"
phase "retire + jump back to A" "$(at "$A" "PM: suspend exit")" "$(at "$A" "khib: woke from suspend-to-both")"
phase "wake -> A running" "$(at "$A" "host: system_wakeup")" "$(at "$A" "khib: woke from suspend-to-both")"
finish
