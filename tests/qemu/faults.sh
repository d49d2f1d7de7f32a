#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# Failure paths (docs/failures.md): every case leaves either the running
# system or a normal boot, with nothing lost and nothing half-restored.
#
#   1       (last) a kernel without CONFIG_KEXEC_JUMP: check and hibernate refuse
#           (with KHIB_KERNEL=6.12, the default, only: Debian's own kernel)
#   2-6     one boot: bad options, missing/mounted/swap target, too little
#           memory (refused before the jump); a target too small and one
#           whose writes fail (the transient kernel reports and jumps back)
#   7.6     the power cut after the save's COMMITTED write: the image every
#           later case uses
#   8.1-8.5 the power cut at each fault point of a restore: before CONSUMED
#           the image stays COMMITTED (and the next boot restores), after
#           it the image is CONSUMED (the next boot boots on)
#   10-13   a flipped chunk byte, a corrupt index, a corrupt or zeroed
#           superblock, a changed memory size: the restore kernel refuses
#           and boots on
#   8       the next boot after the cuts before CONSUMED resumes
#   14      the saved system's ext4 mounted read-write since: refused
#   7.1-7.5 the power cut at each fault point of a save before COMMITTED,
#           each over a copy of the committed image: no committed image
#   9       one boot of the restore kernel after the resume and every cut:
#           nothing restored, nothing restored twice
#
# The power is cut at named fault points (khib.test.stop=POINT, see
# docs/failures.md): the program stops there for good and prints a marker
# line, and the host kills QEMU when the marker shows in the serial log.  No
# case depends on how long a step takes.
#
# Disks of every guest: vda image target, vdb ext4, vdc a second target
# (the last restore kernel boot has more, past vdc).
set -eu
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

kernel=$(test_kernel "$KHIB_KERNEL")
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

# image_uuid IMG: the uuid khib-restore --info reads (or "none").
image_uuid() {
    "$RESTORE" --image "$1" --info 2>/dev/null | sed -n 's/^uuid: *//p' | grep . || echo none
}

# power_cut NAME POINT KERNEL INITRD APPEND [QEMU ARGS...]: boot a guest whose
# command line arms fault point POINT, and cut the power (SIGKILL to QEMU)
# as soon as the serial log shows that the program stopped there; its
# KHIBTEST results count.  The program waits at the point for good, so the
# moment of the cut does not matter.  Passes or fails "NAME: ...".
power_cut() {
    cname=$1 cpoint=$2
    shift 2
    clog=$work/$cname.log
    log "boot: $cname (power cut at $cpoint)"
    rm -f "$clog" "$clog.pid"
    # "|| true": set -e off inside run_guest, which then records QEMU's status.
    run_guest "$clog" "$@" -pidfile "$clog.pid" || true &
    cbg=$!
    ccut=
    while kill -0 "$cbg" 2>/dev/null; do
        if grep -qE "khib-test: stopped at $cpoint\$" "$clog" 2>/dev/null; then
            kill -KILL "$(cat "$clog.pid")" 2>/dev/null && ccut=1
            break
        fi
        sleep 0.1
    done
    wait "$cbg" || true
    collect "$clog"
    if [ -n "$ccut" ]; then
        stamp "power cut at $cpoint" >> "$clog"
        pass "$cname: the power was cut at $cpoint"
    else
        fail "$cname: the guest never stopped at $cpoint"
        show_log "$clog"
    fi
}

# flip IMG OFFSET: invert one byte of IMG.
flip() {
    b=$(od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' ')
    printf '%b' "$(printf '\\0%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
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

# --- 7.6: the power cut right after the commit ---------------------------------
# The image every later case uses: committed and synced, its saved system
# waiting in khib hibernate.
truncate -s 1G "$work/good.img"
# shellcheck disable=SC2046
power_cut 7.6 save-committed "$kernel" "$initrd" "khibtest.scenario=faults-hibernate khibtest.stop=save-committed" \
    $(disks "$work/good.img")
expect_state "$work/good.img" COMMITTED "7.6 after the COMMITTED write"
if out=$("$RESTORE" --image "$work/good.img" --verify 2>&1); then
    pass "7.6: every chunk verifies: $(echo "$out" | tail -n 1)"
else
    fail "7.6: the committed image does not verify: $out"
fi
good_uuid=$(image_uuid "$work/good.img")
"$RESTORE" --image "$work/good.img" --info > "$work/good.info"
index_at=$(sed -n 's/.*index [0-9]* bytes at \([0-9]*\).*/\1/p' "$work/good.info")
[ -n "$index_at" ] || index_at=8192

# --- 8.1-8.5: the power cut at each point of a restore ---------------------------
# 8.1-8.3, before CONSUMED: one copy of the image, cut three times; each cut
# must leave it exactly as it was, COMMITTED, so that each next boot starts
# the restore again (the next cut, then the resume below).
cp --sparse=always "$work/good.img" "$work/resume.img"
n=0
for point in restore-validated restore-half-memory restore-before-consumed; do
    n=$((n + 1))
    # shellcheck disable=SC2046
    power_cut "8.$n" "$point" "$kernel" "$initrd" "$R_APPEND khib.test.stop=$point khibtest.scenario=restore-expected" \
        $(disks "$work/resume.img")
    if cmp -s "$work/good.img" "$work/resume.img"; then
        pass "8.$n: cut at $point: the image is unchanged, still $(image_state "$work/resume.img")"
    else
        fail "8.$n: cut at $point: the image changed (now $(image_state "$work/resume.img"))"
    fi
done
if grep -q "khib-restore: restored image" "$work/8.2.log"; then
    fail "8.2: the restore finished before the cut"
else
    pass "8.2: the cut came before the restore finished"
fi
# 8.4-8.5, after CONSUMED: each on its own copy, checked at the last boot.
for point in restore-consumed restore-before-jump; do
    n=$((n + 1))
    cp --sparse=always "$work/good.img" "$work/$point.img"
    # shellcheck disable=SC2046
    power_cut "8.$n" "$point" "$kernel" "$initrd" "$R_APPEND khib.test.stop=$point khibtest.scenario=restore-expected" \
        $(disks "$work/$point.img")
    expect_state "$work/$point.img" CONSUMED "8.$n: cut at $point"
done
expect_in 8.5 "khib-restore: jumping into the restored system" "8.5: the cut came after the last line before the jump"

# refuse NAME IMG DEV TEXT WHAT: the restore kernel, asked to restore DEV
# (vda holding IMG, or vdc), refuses, says TEXT and boots normally; /init
# then retires IMG if it was COMMITTED (ABANDONED: the normal boot goes on,
# so it must never resume), else leaves it as it was.
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
    rafter=$rbefore
    [ "$rbefore" != COMMITTED ] || rafter=ABANDONED
    expect_state "$rimg" "$rafter" "$rwhat: after the normal boot"
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

# --- 8: the next boot after the cuts before CONSUMED resumes ---------------------
# The resumed system verifies itself, then hibernates to vdc and powers off.
# shellcheck disable=SC2046
boot resume "$kernel" "$initrd" "$R_APPEND khibtest.scenario=restore-expected" $(disks "$work/resume.img")
expect_in resume "KHIBTEST: PASS 8 after the resume: process counter advancing" \
    "8: after the cuts at 8.1-8.3 the next boot restored and resumed"
expect_in resume "image saved: powering off" "14: the resumed system hibernated to vdc"
expect_state "$work/resume.img" CONSUMED "8: after the resume"

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
# --- 7.1-7.5: the power cut at each point of a save before COMMITTED -------------
# Each over a copy of the committed image (an older image on the target must
# be invalid from the save's first write on), with a copy of the ext4 disk:
# these saved systems never resume.
cp --sparse=always "$work/data.img" "$work/data-cut.img"
cut_disks() {   # cut_disks TARGET
    echo "-drive file=$1,if=virtio,format=raw -drive file=$work/data-cut.img,if=virtio,format=raw" \
        "-drive file=$work/second.img,if=virtio,format=raw"
}
n=0
for point in save-writing save-half-data save-data save-index save-synced; do
    n=$((n + 1))
    cp --sparse=always "$work/good.img" "$work/$point.img"
    # shellcheck disable=SC2046
    power_cut "7.$n" "$point" "$kernel" "$initrd" "khibtest.scenario=faults-hibernate khibtest.stop=$point" \
        $(cut_disks "$work/$point.img")
    expect_state "$work/$point.img" WRITING "7.$n: cut at $point"
    u=$(image_uuid "$work/$point.img")
    if [ "$u" != none ] && [ "$u" != "$good_uuid" ]; then
        pass "7.$n: the superblock is the new save's ($u), the old image is gone"
    else
        fail "7.$n: the superblock's uuid is $u (the old image's: $good_uuid)"
    fi
done
if grep -q "khib-save: saved image" "$work/7.5.log"; then
    fail "7.5: the save finished before the cut"
else
    pass "7.5: the save never reached its end"
fi

# --- 9 and the next boot of every cut: one restore kernel boot -----------------
# vda: the image that resumed (case 9); vdd-vde: cut after CONSUMED (8.4,
# 8.5); vdf-vdj: cut before COMMITTED (7.1-7.5), offered to khib-restore by
# the normal boot (guest/cut-nextboot.sh) as /init offers vda.
set -- -drive "file=$work/resume.img,if=virtio,format=raw" -drive "file=$work/data-cut.img,if=virtio,format=raw" \
    -drive "file=$work/second.img,if=virtio,format=raw"
for img in restore-consumed restore-before-jump save-writing save-half-data save-data save-index save-synced; do
    set -- "$@" -drive "file=$work/$img.img,if=virtio,format=raw"
done
boot nextboot "$kernel" "$initrd" "$R_APPEND khibtest.scenario=cut-nextboot" "$@"
expect_in nextboot "on /dev/vda was already restored on" "9: a boot after the resume finds the image consumed"
expect_in nextboot "KHIBTEST: DONE" "9: and boots normally"
expect_state "$work/resume.img" CONSUMED "9"
n=3
for dev in vdd vde; do
    n=$((n + 1))
    expect_in nextboot "on /dev/$dev was already restored on" "8.$n: the next boot finds the image already restored"
done
expect_state "$work/restore-consumed.img" CONSUMED "8.4: after the next boot"
expect_state "$work/restore-before-jump.img" CONSUMED "8.5: after the next boot"
n=0
for dev in vdf vdg vdh vdi vdj; do
    n=$((n + 1))
    expect_in nextboot "khib-restore: no committed image on /dev/$dev (state WRITING" \
        "7.$n: the next boot of the restore kernel finds no committed image"
done
for point in save-writing save-half-data save-data save-index save-synced; do
    expect_state "$work/$point.img" WRITING "7: $point after the next boot"
done
if grep -q "khib-restore: restored image" "$work/nextboot.log"; then
    fail "8-9: the next boot restored an image"
else
    pass "8-9: the next boot restored nothing: no image restored twice"
fi

# --- 1: a kernel that cannot jump ------------------------------------------
# Debian's own kernel, which is built without CONFIG_KEXEC_JUMP (design-notes
# fact 1): the kernel a user really runs, and no second kernel build.  Its
# virtio modules and config come in an overlay (tests/qemu/kernel/stock.sh);
# the refusal does not depend on the test kernel, so it runs once, with 6.12.
if [ "$KHIB_KERNEL" = 6.12 ]; then
    stock=$("$KHIB_TOP/tests/qemu/kernel/stock.sh")
    nojump_initrd=$(guest_initrd "$stock/vmlinuz" "$stock/overlay")
    truncate -s 256M "$work/t1.img"
    # shellcheck disable=SC2046
    boot nojump "$stock/vmlinuz" "$nojump_initrd" "khibtest.scenario=faults-nojump" $(disks "$work/t1.img")
    expect_in nojump "Linux version $(cat "$stock/release")" "1: Debian's own kernel booted"
    expect_in nojump "KHIBTEST: DONE" "1: the guest finished"
else
    echo "SKIP 1: runs with KHIB_KERNEL=6.12 only (Debian's own kernel, whatever the test kernel)"
fi

finish
