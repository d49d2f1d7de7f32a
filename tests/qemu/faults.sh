#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# Failure paths (docs/failures.md): every case leaves either the running
# system or a normal boot, with nothing lost and nothing half-restored.
#
#   1       (last) a kernel without CONFIG_KEXEC_JUMP: check and hibernate refuse
#   2-6     one boot: bad options, missing/mounted/swap target, too little
#           memory (refused before the jump); a target too small and one
#           whose writes fail (the transient kernel reports and jumps back)
#   7       the power cut at three points of a save: no committed image
#   10-13   a flipped chunk byte, a corrupt index, a corrupt or zeroed
#           superblock, a changed memory size: the restore kernel refuses
#           and boots on
#   8       the power cut during a restore: the next boot restores fine
#   9       a boot after the resume: the image is consumed, boots on
#   14      the saved system's ext4 mounted read-write since: refused
#
# Disks of every guest: vda image target, vdb ext4, vdc a second target.
set -eu
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

kernel=$(test_kernel 6.12)
initrd=$(guest_initrd "$kernel")
RESTORE="$KHIB_TOP/build/khib-restore"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# boot NAME KERNEL INITRD APPEND [QEMU ARGS...]: one guest boot whose
# KHIBTEST results count; its serial log is $work/NAME.log, shown on failure.
boot() {
    bname=$1
    shift
    log "boot: $bname"
    run_guest "$work/$bname.log" "$@" || true
    collect "$work/$bname.log"
}

# expect_in NAME TEXT WHAT: the serial log of boot NAME holds TEXT.
expect_in() {
    before=$FAILED
    expect "$work/$1.log" "$2" "$3"
    [ "$FAILED" = "$before" ] || show_log "$work/$1.log"
}

# image_state IMG: the state khib-restore --info reads (or "none").
image_state() {
    "$RESTORE" --image "$1" --info 2>/dev/null | sed -n 's/^state: *//p' | grep . || echo none
}

# expect_state IMG STATE WHAT
expect_state() {
    s=$(image_state "$1")
    if [ "$s" = "$2" ]; then pass "$3: image state $s"; else fail "$3: image state $s, expected $2"; fi
}

# flip IMG OFFSET: invert one byte of IMG.
flip() {
    b=$(od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

disks() {   # disks TARGET: the -drive options, TARGET as vda
    echo "-drive file=$1,if=virtio,format=raw -drive file=$work/data.img,if=virtio,format=raw" \
        "-drive file=$work/second.img,if=virtio,format=raw"
}

truncate -s 64M "$work/data.img"
mkfs.ext4 -q -F "$work/data.img"
truncate -s 1G "$work/second.img"

# --- 2-6: refusals before the jump, failures in the transient kernel -----------
truncate -s 1G "$work/t2.img" "$work/bad.img"
truncate -s 64M "$work/swap.img"
truncate -s 16M "$work/small.img"
# Writes that touch byte 32 MiB of bad.img fail with EIO; reads work.
printf '[inject-error]\nevent = "none"\niotype = "write"\nerrno = "5"\nsector = "65536"\n' > "$work/blkdebug.conf"
boot refuse "$kernel" "$initrd" "khibtest.scenario=faults-refuse" \
    -drive "file=$work/t2.img,if=virtio,format=raw" -drive "file=$work/data.img,if=virtio,format=raw" \
    -drive "file=$work/swap.img,if=virtio,format=raw" -drive "file=$work/small.img,if=virtio,format=raw" \
    -drive "file=blkdebug:$work/blkdebug.conf:$work/bad.img,if=virtio,format=raw"
expect_in refuse "KHIBTEST: DONE" "2-6: the guest finished"
expect_in refuse "khib-init: save failed: jumping back" "5-6: the transient kernel reported its failures and jumped back"
for f in t2 small bad; do
    case $(image_state "$work/$f.img") in
        COMMITTED) fail "2-6: $f.img holds a committed image" ;;
        *) pass "2-6: no committed image on $f.img (host check)" ;;
    esac
done
if e2fsck -n -f "$work/data.img" > "$work/fsck.log" 2>&1; then
    pass "2-6: fsck -n of the ext4 file system is clean"
else
    fail "2-6: fsck -n: $(tail -n 3 "$work/fsck.log")"
fi

# --- 7: the power cut during a save ------------------------------------------
n=0
for point in "khib-init: transient kernel|0" "khib-save: using|0.3" "khib-save: [0-9]+/[0-9]+ MiB|0"; do
    n=$((n + 1))
    pattern=${point%|*}
    delay=${point#*|}
    truncate -s 0 "$work/t7.img"
    truncate -s 1G "$work/t7.img"
    log "boot: cut$n (power cut $delay s after /$pattern/)"
    # shellcheck disable=SC2046
    if run_guest_killed "$work/cut$n.log" "$pattern" "$delay" "$kernel" "$initrd" \
        "khibtest.scenario=faults-hibernate" $(disks "$work/t7.img"); then
        pass "7.$n: power cut during the save, $delay s after /$pattern/"
    else
        fail "7.$n: the save ended before /$pattern/ showed"
        show_log "$work/cut$n.log"
    fi
    state=$(image_state "$work/t7.img")
    why=$("$RESTORE" --image "$work/t7.img" --verify 2>&1 || true)
    [ "$state" != COMMITTED ] && pass "7.$n: no committed image: $why" || fail "7.$n: a committed image"
    # shellcheck disable=SC2046
    boot "cut$n-r" "$kernel" "$initrd" "$R_APPEND khibtest.scenario=noimage" $(disks "$work/t7.img")
    expect_in "cut$n-r" "khib-restore: no committed image on /dev/vda" "7.$n: the restore kernel finds no image"
done

# --- a good image, then 10-13: bad images refused ------------------------------
truncate -s 1G "$work/good.img"
# shellcheck disable=SC2046
boot save "$kernel" "$initrd" "khibtest.scenario=faults-hibernate" $(disks "$work/good.img")
expect_in save "image saved: powering off" "the transient kernel saved an image and powered off"
expect_state "$work/good.img" COMMITTED "the saved image"
"$RESTORE" --image "$work/good.img" --info > "$work/good.info"
index_at=$(sed -n 's/.*index [0-9]* bytes at \([0-9]*\).*/\1/p' "$work/good.info")
[ -n "$index_at" ] || index_at=8192

# refuse NAME IMG DEV TEXT WHAT: the restore kernel, asked to restore DEV
# (vda holding IMG, or vdc), refuses, says TEXT and boots normally; IMG is
# left as it was.
refuse() {
    rname=$1 rimg=$2 rdev=$3 rtext=$4 rwhat=$5
    rvda=$rimg
    [ "$rdev" = /dev/vda ] || rvda=$work/good.img
    rbefore=$(image_state "$rimg")
    # shellcheck disable=SC2046
    boot "$rname" "$kernel" "$initrd" "$R_BASE khib.image=$rdev khibtest.scenario=refused" $(disks "$rvda")
    expect_in "$rname" "$rtext" "$rwhat: refused, saying '$rtext'"
    grep -m 1 -E "khib-restore: (not restoring|.*stays COMMITTED|.*superblock|.*index)" "$work/$rname.log" |
        sed 's/^\[[0-9.]*\] /    /' || true
    expect_in "$rname" "KHIBTEST: PASS restore kernel refused the image and booted normally" \
        "$rwhat: booted normally"
    expect_state "$rimg" "$rbefore" "$rwhat: the image is left as it was"
}

cp --sparse=always "$work/good.img" "$work/bad-chunk.img"
flip "$work/bad-chunk.img" $(((4096 + index_at) / 2))
refuse chunk "$work/bad-chunk.img" /dev/vda "the restore stopped, the image stays COMMITTED" \
    "10 a flipped byte in a chunk"
expect_in chunk "(pfn 0x" "10: the message names the chunk's pages"
cp --sparse=always "$work/good.img" "$work/bad-index.img"
flip "$work/bad-index.img" $((index_at + 40))
refuse index "$work/bad-index.img" /dev/vda "index checksum mismatch" "11 a corrupt index"
cp --sparse=always "$work/good.img" "$work/bad-sb.img"
flip "$work/bad-sb.img" 200
refuse superblock "$work/bad-sb.img" /dev/vda "superblock checksum mismatch" "12 a corrupt superblock"
cp --sparse=always "$work/good.img" "$work/zero-sb.img"
dd if=/dev/zero of="$work/zero-sb.img" bs=4096 count=1 conv=notrunc status=none
refuse zero-sb "$work/zero-sb.img" /dev/vda "the superblock is damaged: no KHIBIMG1 magic at byte 0, but a zstd frame" \
    "12b a zeroed superblock is damaged, not never written"
# shellcheck disable=SC2034 # read by run_guest (common.sh)
GUEST_MEM=1280M
refuse memsize "$work/good.img" /dev/vda "the firmware memory map (/sys/firmware/memmap) differs" \
    "13 the memory size changed"
unset GUEST_MEM

# --- 8: the power cut during a restore, then a good restore --------------------
log "boot: restore-cut (power cut during the restore)"
# shellcheck disable=SC2046
if run_guest_killed "$work/restore-cut.log" "khib-restore: using" 0.2 "$kernel" "$initrd" \
    "$R_APPEND khibtest.scenario=restore-expected" $(disks "$work/good.img"); then
    pass "8: power cut during the restore"
else
    fail "8: the restore ended before the power could be cut"
    show_log "$work/restore-cut.log"
fi
expect_state "$work/good.img" COMMITTED "8: after the cut"
# The resumed system verifies itself, then hibernates to vdc and powers off.
# shellcheck disable=SC2046
boot resume "$kernel" "$initrd" "$R_APPEND khibtest.scenario=restore-expected" $(disks "$work/good.img")
expect_in resume "KHIBTEST: PASS 8 after the resume: process counter advancing" "8: the next boot resumed"
expect_in resume "image saved: powering off" "14: the resumed system hibernated to vdc"

# --- 9: the image is consumed ----------------------------------------------------
# shellcheck disable=SC2046
boot consumed "$kernel" "$initrd" "$R_APPEND khibtest.scenario=noimage" $(disks "$work/good.img")
expect_in consumed "already restored" "9: a boot after the resume finds the image consumed"
expect_state "$work/good.img" CONSUMED "9"

# --- 14: the file system was mounted read-write since ---------------------------
# shellcheck disable=SC2046
boot mount-write "$kernel" "$initrd" "khibtest.scenario=mount-write" $(disks "$work/good.img")
expect_state "$work/second.img" COMMITTED "14: before the restore"
refuse mounted "$work/second.img" /dev/vdc "the file system at /mnt (ext2/3/4 on vdb) was mounted since the hibernation" \
    "14 the saved system's ext4 was mounted since"
if e2fsck -n -f "$work/data.img" > "$work/fsck.log" 2>&1; then
    pass "14: fsck -n of the ext4 file system is clean"
else
    fail "14: fsck -n: $(tail -n 3 "$work/fsck.log")"
fi
# --- 1: a kernel that cannot jump ------------------------------------------
nojump=$(test_kernel 6.12-nojump)
nojump_initrd=$(guest_initrd "$nojump")
truncate -s 256M "$work/t1.img"
# shellcheck disable=SC2046
boot nojump "$nojump" "$nojump_initrd" "khibtest.scenario=faults-nojump" $(disks "$work/t1.img")
expect_in nojump "KHIBTEST: DONE" "1: the guest finished"

finish
