#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# `make demo`: one full cycle of a QEMU guest — boot, hibernate (jump into the
# transient kernel, save, power off), a fresh boot of the restore kernel,
# restore, resume — with each phase's wall time, the image's figures, and a
# verdict line saying what was verified.
set -eu
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

kernel='' initrd='' work=''  # set by scenario_setup (lib/common.sh)
scenario_setup
truncate -s 1G "$work/target.img"
truncate -s 64M "$work/data.img"
mkfs.ext4 -q -F "$work/data.img"
set -- -drive "file=$work/target.img,if=virtio,format=raw" -drive "file=$work/data.img,if=virtio,format=raw"

echo "demo: booting guest A (1 GiB, 2 CPUs); it fills 60 % of its memory and hibernates"
run_guest "$work/a.log" "$kernel" "$initrd" "khibtest.scenario=demo" "$@" || true
echo "demo: guest powered off; booting the restore kernel R"
run_guest "$work/r.log" "$kernel" "$initrd" "$R_APPEND khibtest.scenario=restore-expected" "$@" || true
collect "$work/a.log" > /dev/null
collect "$work/r.log" > "$work/results"
check_filesystem "$work/data.img" >> "$work/results"

a0=$(at "$work/a.log" "qemu start")
a_ready=$(at "$work/a.log" "demo: hibernating")
b_up=$(at "$work/a.log" "khib-init: transient kernel")
saved=$(at "$work/a.log" "image saved: powering off")
a_off=$(at "$work/a.log" "qemu exit")
r0=$(at "$work/r.log" "qemu start")
r_up=$(at "$work/r.log" "khib-init: restore kernel")
restored=$(at "$work/r.log" "khib-restore: jumping")
resumed=$(at "$work/r.log" "khib: resumed from image")

echo
echo "Phases (host wall time):"
phase "A boot + workload" "$a0" "$a_ready"
phase "jump + B boot" "$a_ready" "$b_up"
phase "save" "$b_up" "$saved"
phase "power off" "$saved" "$a_off"
phase "R boot" "$r0" "$r_up"
phase "restore" "$r_up" "$restored"
phase "resume" "$restored" "$resumed"
echo
echo "Image (from khib-save):"
grep -F "khib-save:" "$work/a.log" | grep -v -E '[0-9]+%' | sed 's/^\[[0-9.]*\] /  /' | tail -n 6
grep -F "khib: resumed from image" "$work/r.log" | sed 's/^\[[0-9.]*\] /  /'
echo
if [ "$FAILED" = 0 ] && [ "$PASSED" -gt 0 ]; then
    echo "VERDICT: PASS — resumed after a real power-off; verified $PASSED checks:"
    sed 's/^PASS /  /' "$work/results"
    echo "$PASSED passed, $FAILED failed"
else
    echo "VERDICT: FAIL"
    cat "$work/results"
    show_log "$work/a.log"
    show_log "$work/r.log"
    echo "$PASSED passed, $FAILED failed"
    exit 1
fi
