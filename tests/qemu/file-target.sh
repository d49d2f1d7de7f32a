#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# The image in a file (docs/file-target.md), in the busybox guest: disks vda
# ext4, vdb xfs, vdc btrfs, all mounted in the saved system A.
#   boot 1  A: btrfs refused; an unwritten extent written raw reads as zeros
#           through the file system; a moved, hole-punched, truncated and
#           no longer immutable file each refused before the jump, nothing
#           written; khib setup-target on the ext4, workload, hibernate;
#   boot 2  R with khib.image=/dev/vda khib.offset=N: resumes A, which
#           verifies its memory, the record writer on the ext4 and the data
#           on the xfs, then sets up a file on the xfs and hibernates;
#   boot 3  R with khib.image=/dev/vdb khib.offset=M: resumes A, verified
#           again; A hibernates a third time;
#   boot 4  another system mounts the xfs read-write and writes to it;
#   boot 5  R must refuse the image in the xfs file (mounted since).
# Then the host's fsck of the ext4 and the xfs, and the records.  Prints the
# phase times of the ext4 cycle.
set -eu
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

kernel='' initrd='' work=''  # set by scenario_setup (lib/common.sh)
scenario_setup
truncate -s 1G "$work/ext4.img" "$work/xfs.img"
truncate -s 256M "$work/btrfs.img"
mkfs.ext4 -q -F -b 4096 "$work/ext4.img"
mkfs.xfs -q -f "$work/xfs.img"
mkfs.btrfs -q -f "$work/btrfs.img" > /dev/null
set -- -drive "file=$work/ext4.img,if=virtio,format=raw" -drive "file=$work/xfs.img,if=virtio,format=raw" \
    -drive "file=$work/btrfs.img,if=virtio,format=raw"

offset_of() {   # offset_of LOG FS: the offset the guest printed for FS's image file
    tr -d '\r' < "$1" | sed -n "s/.*khibtest-offset $2 \([0-9][0-9]*\)\$/\1/p" | tail -n 1
}

log "boot 1: the saved system: refusals, then the image in a file on the ext4"
run_guest "$work/a.log" "$kernel" "$initrd" "khibtest.scenario=file-target" "$@" || true
before=$FAILED
collect "$work/a.log"
expect "$work/a.log" "image saved: powering off" "cycle 1: the transient kernel saved into the ext4 file and powered off"
expect "$work/a.log" "khib-save: recorded the file system at /mnt/e (ext2/3/4 on vda)" \
    "cycle 1: the transient kernel recorded the ext4 holding the file before writing into it"
[ "$FAILED" = "$before" ] || show_log "$work/a.log"
eoff=$(offset_of "$work/a.log" ext4)
# A raw write into the unwritten extent of a file while A is hibernated (as
# B writes an image): A reads it back through its file system after the
# resume (zeros) and from the device (these bytes).
uoff=$(offset_of "$work/a.log" unwritten)
if [ -n "$uoff" ]; then
    printf 'KHIBRAW!' | dd of="$work/ext4.img" bs=1 seek="$uoff" conv=notrunc 2> /dev/null
else
    fail "unwritten: the guest named no offset of its unwritten file"
fi

# restore_boot LOG DEV OFFSET WHAT NEXT [QEMU ARGS...]: R resumes A from the
# image file at OFFSET of DEV (WHAT), and A saves its next image (NEXT).
restore_boot() {
    rb_log=$1 rb_dev=$2 rb_off=$3 rb_what=$4 rb_next=$5
    shift 5
    log "restore kernel, khib.image=$rb_dev khib.offset=$rb_off"
    run_guest "$rb_log" "$kernel" "$initrd" \
        "$R_BASE khib.image=$rb_dev khib.offset=$rb_off khibtest.scenario=restore-expected" "$@" || true
    before=$FAILED
    collect "$rb_log"
    expect "$rb_log" "khib-restore: jumping into the restored system" "$rb_what"
    expect "$rb_log" "image saved: powering off" "$rb_next"
    [ "$FAILED" = "$before" ] || show_log "$rb_log"
}

restore_boot "$work/r1.log" /dev/vda "$eoff" "cycle 1: R restored from the ext4 file" \
    "cycle 2: the transient kernel saved into the xfs file and powered off" "$@"
xoff=$(offset_of "$work/r1.log" xfs)
restore_boot "$work/r2.log" /dev/vdb "$xoff" "cycle 2: R restored from the xfs file" \
    "hibernation 3: saved into the xfs file and powered off" "$@"

log "boot 4: another system mounts the xfs and writes to it"
run_guest "$work/m.log" "$kernel" "$initrd" "khibtest.scenario=ft-mount" "$@" || true
collect "$work/m.log"

log "boot 5: the restore kernel must refuse the image in the xfs file"
run_guest "$work/r3.log" "$kernel" "$initrd" \
    "$R_BASE khib.image=/dev/vdb khib.offset=$xoff khibtest.scenario=ft-refused" "$@" || true
before=$FAILED
collect "$work/r3.log"
expect "$work/r3.log" "(xfs on vdb) was mounted since the hibernation" \
    "mounted in between: R refuses the image in the xfs file, naming the xfs"
if grep -qF "khib-restore: jumping" "$work/r3.log"; then fail "mounted in between: R jumped"; else
    pass "mounted in between: R did not jump"; fi
expect "$work/r3.log" "abandoned: a normal boot started after the restore did not jump" \
    "mounted in between: R retired the image before booting normally"
[ "$FAILED" = "$before" ] || show_log "$work/r3.log"

check_filesystem "$work/ext4.img"
if xfs_repair -n -f "$work/xfs.img" > "$work/xfs.fsck" 2>&1; then
    pass "xfs_repair -n of the xfs holding the second image file is clean"
else
    fail "xfs_repair -n of the xfs: $(tail -n 3 "$work/xfs.fsck" | tr '\n' ' ')"
fi

# at_last LOG TEXT: like at, for the last line holding TEXT (boot 1 makes a
# test snapshot before cycle 1: its lines come first).
at_last() {
    grep -F -- "$2" "$1" | tail -n 1 | sed -n 's/^\[\([0-9.]*\)\].*/\1/p'
}
echo
echo "Phases of the ext4 file-target cycle (host wall time):"
hib=$(at_last "$work/a.log" "khib: hibernating")
b_up=$(at_last "$work/a.log" "khib-init: transient kernel")
phase "A: setup, refusals, workload" "$(at "$work/a.log" "qemu start")" "$hib"
phase "jump + B boot" "$hib" "$b_up"
phase "save" "$b_up" "$(at "$work/a.log" "image saved: powering off")"
phase "power off" "$(at "$work/a.log" "image saved: powering off")" "$(at "$work/a.log" "qemu exit")"
phase "R boot" "$(at "$work/r1.log" "qemu start")" "$(at "$work/r1.log" "khib-init: restore kernel")"
phase "restore" "$(at "$work/r1.log" "khib-init: restore kernel")" "$(at "$work/r1.log" "khib-restore: jumping")"
phase "resume" "$(at "$work/r1.log" "khib-restore: jumping")" "$(at "$work/r1.log" "khib: resumed from image")"
tr -d '\r' < "$work/a.log" | grep -E "khib-save: (saved image|time)" | sed 's/^\[[0-9.]*\] /  /' | tail -n 2
tr -d '\r' < "$work/r1.log" | grep -F "khib-restore: restored image" | sed 's/^\[[0-9.]*\] /  /' | head -n 1
finish
