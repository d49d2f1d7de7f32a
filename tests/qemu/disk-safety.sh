#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# khib never resumes a hibernated system over a file system that changed
# since (docs/failures.md): `khib check` lists every mounted block file
# system and refuses what it cannot check; the restore kernel refuses an
# image whose file systems were mounted since (and retires it, booting on);
# a normal boot that retires the image first makes the restore kernel boot
# on without looking further.
#
#   A   a system booted without an initramfs from an ext4 root disk (vda, its
#       root shown as /dev/root), hibernated to vdb: (a) a normal boot of the
#       root disk writes to it, the restore kernel refuses naming the root;
#       (b) the untouched disks restore and resume; (c) a normal boot that
#       runs `khib retire` first, then writes: the image is abandoned.
#   B   ext4, xfs, btrfs and vfat mounted read-write: minix (no check) and a
#       loop device refused, minix read-only and ignore-fs= passing; after
#       the save, for each type a normal boot that mounts only it and writes:
#       the restore kernel refuses naming it; the untouched disks resume.
#   C   the distribution hook (hooks/khib-resume.sh) on a normal boot
#       retires the image: the restore kernel boots on.
#
# Every disk is checked with its own fsck on the host at the end of its use.
# DS_PARTS="A B C" (the default) selects parts; C uses B's save.
set -eu
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

kernel=$(test_kernel "$KHIB_KERNEL")
initrd=$(guest_initrd "$kernel")
rootdisk=$(guest_rootdisk "$kernel")
RESTORE="$KHIB_TOP/build/khib-restore"
work=$(mktemp -d)
# KHIB_KEEP=1 keeps the serial logs and disk images (for docs and debugging).
trap '[ -n "${KHIB_KEEP:-}" ] && echo "disk-safety: kept $work" >&2 || rm -rf "$work"' EXIT
started=$(date +%s)
boots=0
DS_PARTS=${DS_PARTS:-A B C}
part() { case " $DS_PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

# boot NAME KERNEL INITRD APPEND [QEMU ARGS...]: one guest boot whose
# KHIBTEST results count; its serial log is $work/NAME.log, shown once on a
# failure.
boot() {
    bname=$1
    shift
    log "boot: $bname"
    boots=$((boots + 1))
    bbefore=$FAILED
    run_guest "$work/$bname.log" "$@" || true
    collect "$work/$bname.log"
    [ "$FAILED" = "$bbefore" ] || show_once "$bname"
}

# boot_r NAME KERNEL INITRD APPEND [QEMU ARGS...]: a restore kernel's boot
# that must not resume the saved system.  If it does, that is one failure,
# and the resumed system's own results do not count.
boot_r() {
    bname=$1
    shift
    log "boot: $bname"
    boots=$((boots + 1))
    run_guest "$work/$bname.log" "$@" || true
    if grep -q "khib: resumed from image" "$work/$bname.log"; then
        fail "$bname: the restore kernel resumed the saved system, over its changed file systems"
        quote "$bname" "khib: resumed from image"
        show_once "$bname"
    else
        bbefore=$FAILED
        collect "$work/$bname.log"
        [ "$FAILED" = "$bbefore" ] || show_once "$bname"
    fi
}

show_once() {   # show_once NAME: the serial log of boot NAME, once
    [ -e "$work/$1.shown" ] && return 0
    : > "$work/$1.shown"
    show_log "$work/$1.log"
}

# expect_in NAME TEXT WHAT: the serial log of boot NAME holds TEXT.
expect_in() {
    ebefore=$FAILED
    expect "$work/$1.log" "$2" "$3"
    [ "$FAILED" = "$ebefore" ] || show_once "$1"
}

# quote NAME PATTERN: print the first serial line of boot NAME matching the
# extended regular expression PATTERN, indented (what the user sees).
quote() {
    grep -m 1 -E "$2" "$work/$1.log" | sed 's/^\[[0-9.]*\] /    /' || true
}

image_state() {   # image_state IMG: the state khib-restore --info reads, or "none"
    "$RESTORE" --image "$1" --info 2>/dev/null | sed -n 's/^state: *//p' | grep . || echo none
}

expect_state() {   # expect_state IMG STATE WHAT
    s=$(image_state "$1")
    if [ "$s" = "$2" ]; then pass "$3: image state $s (host)"; else fail "$3: image state $s, expected $2 (host)"; fi
}

# expect_recorded IMG WHAT COUNT "MNT (KIND on DEV)"...: the image (host
# --info) records COUNT file systems, among them each one named.
expect_recorded() {
    rimg=$1 rwhat=$2 rcount=$3
    shift 3
    "$RESTORE" --image "$rimg" --info 2>/dev/null | grep '^file system:' > "$rimg.fs" || true
    for rfs in "$@"; do
        if grep -qF " $rfs," "$rimg.fs"; then
            pass "$rwhat: the image records the file system at $rfs"
        else
            fail "$rwhat: the image does not record $rfs: $(tr '\n' ' ' < "$rimg.fs")"
        fi
    done
    rgot=$(wc -l < "$rimg.fs")
    if [ "$rgot" = "$rcount" ]; then
        pass "$rwhat: $rgot file systems recorded"
    else
        fail "$rwhat: $rgot file systems recorded, not $rcount: $(tr '\n' ' ' < "$rimg.fs")"
    fi
}

# expect_abandoned IMG REASON WHAT: --info on the host says ABANDONED, with a
# line "abandoned: TIME (REASON)"; REASON may hold * for any text.
expect_abandoned() {
    expect_state "$1" ABANDONED "$3"
    a=$("$RESTORE" --image "$1" --info 2>/dev/null | sed -n 's/^abandoned: *//p')
    # shellcheck disable=SC2254 # REASON is a pattern
    case "$a" in
        *\($2\)) pass "$3: --info says 'abandoned: $a'" ;;
        *) fail "$3: --info abandoned line '$a', expected one ending in '($2)'" ;;
    esac
}

# fsck_clean TYPE IMG WHAT: the host's fsck of TYPE, changing nothing,
# finds IMG clean.
fsck_clean() {
    case "$1" in
        ext4) set -- "$@" e2fsck -f -n "$2" ;;
        xfs) set -- "$@" xfs_repair -n -f "$2" ;;
        btrfs) set -- "$@" btrfs check --readonly "$2" ;;
        vfat) set -- "$@" fsck.vfat -n "$2" ;;
    esac
    fimg=$2 fwhat=$3
    shift 3
    if "$@" > "$fimg.fsck" 2>&1; then
        pass "$fwhat: $1 of the $(basename "$fimg") file system is clean"
    elif [ "$1" = fsck.vfat ] && grep -q '^Dirty bit is set' "$fimg.fsck" && ! vfat_other "$fimg.fsck"; then
        # FAT has no journal: the dirty bit of the saved system's mount
        # (never unmounted: B powered off) stays through a later mount.
        pass "$fwhat: $1 of the $(basename "$fimg") file system is clean but for the dirty bit of the unclean power-off"
    else
        fail "$fwhat: $1 of $(basename "$fimg"): $(tail -n 3 "$fimg.fsck" | tr '\n' ' ')"
    fi
}

# vfat_other FSCK_OUTPUT: fsck.vfat -n found more than the dirty bit.
vfat_other() {
    grep -v -e '^fsck.fat ' -e '^Dirty bit is set' -e 'Automatically removing dirty bit' \
        -e '^Leaving filesystem unchanged' -e ': [0-9]* files, [0-9]*/[0-9]* clusters$' -e '^ *$' "$1" | grep -q .
}

# refused NAME DEV TEXT WHAT: boot NAME, a restore kernel asked for DEV,
# refused the image with TEXT (the file system part of its message), exit
# 3, and booted normally.
refused() {
    expect_in "$1" "khib-restore: not restoring $2: $3" "$4: refused, saying '$3'"
    quote "$1" "khib-restore: not restoring"
    expect_in "$1" "restore refused or failed (exit 3)" "$4: khib-restore exited 3"
    expect_in "$1" " on $2 abandoned: " "$4: the restore kernel retired the image before booting normally"
    expect_in "$1" "KHIBTEST: PASS restore kernel refused the image and booted normally" "$4: booted normally"
}

# abandoned NAME DEV REASON WHAT: boot NAME, a restore kernel asked for DEV,
# found the image abandoned (exit 10) and booted normally; REASON may hold *.
abandoned() {
    expect_in "$1" " on $2 was abandoned on " "$4: the restore kernel finds the image abandoned"
    aline=$(grep -m 1 -F " on $2 was abandoned on " "$work/$1.log" || true)
    # shellcheck disable=SC2254 # REASON is a pattern
    case "$aline" in
        *\($3\)"; not restoring it") pass "$4: and names the reason: ${aline#*khib-restore: }" ;;
        *) fail "$4: the reason '($3)' not in '$aline'" ;;
    esac
    if grep -q "restore refused or failed" "$work/$1.log"; then
        fail "$4: khib-restore exited other than 10: $(quote "$1" "restore refused or failed")"
    else
        pass "$4: khib-restore exited 10 (no committed image)"
    fi
    expect_in "$1" "KHIBTEST: PASS restore kernel without a committed image booted normally" "$4: booted normally"
}

# ---- Part A: the root file system, booted without an initramfs -------------
# The system's kernel command line: the root disk mounted by the kernel.
A_ROOT="root=/dev/vda rootfstype=ext4 rw rootwait init=/init"
rootdisks() {   # rootdisks SUFFIX: vda the root disk, vdb the target
    echo "-drive file=$work/root$1.img,if=virtio,format=raw -drive file=$work/target$1.img,if=virtio,format=raw"
}

part_a() {
    cp --sparse=always "$rootdisk" "$work/root.img"
    truncate -s 1G "$work/target.img"
    # shellcheck disable=SC2046
    boot A "$kernel" "" "$A_ROOT khibtest.scenario=ds-root" $(rootdisks "")
    expect_in A "image saved: powering off" "A: the transient kernel saved the image and powered off"
    expect_state "$work/target.img" COMMITTED "A: after the save"
    expect_recorded "$work/target.img" "A: after the save" 1 "/ (ext2/3/4 on vda)"
    for c in a c; do
        cp --sparse=always "$work/root.img" "$work/root-$c.img"
        cp --sparse=always "$work/target.img" "$work/target-$c.img"
    done

    # (a) a normal boot writes to the root, without retiring the image.
    # shellcheck disable=SC2046
    boot Aa "$kernel" "" "$A_ROOT khibtest.scenario=ds-rootwrite" $(rootdisks -a)
    # shellcheck disable=SC2046
    boot_r Aa-r "$kernel" "$initrd" "$R_BASE khib.image=/dev/vdb khibtest.scenario=refused" $(rootdisks -a)
    refused Aa-r /dev/vdb "the file system at / (ext2/3/4 on vda) was" "A(a) the root written by a normal boot"
    expect_abandoned "$work/target-a.img" "*exit 3*" "A(a): the refused image, retired"
    fsck_clean ext4 "$work/root-a.img" "A(a)"

    # (c) a normal boot retires the image first (khib retire), then writes.
    # shellcheck disable=SC2046
    boot Ac "$kernel" "" "$A_ROOT khibtest.scenario=ds-rootretire" $(rootdisks -c)
    expect_in Ac "abandoned: disk-safety: the root disk booted normally; it will never be restored" \
        "A(c): khib retire printed the abandon line"
    expect_abandoned "$work/target-c.img" "disk-safety: the root disk booted normally" "A(c): after khib retire"
    # shellcheck disable=SC2046
    boot_r Ac-r "$kernel" "$initrd" "$R_BASE khib.image=/dev/vdb khibtest.scenario=noimage" $(rootdisks -c)
    abandoned Ac-r /dev/vdb "disk-safety: the root disk booted normally" "A(c) retired by khib retire"
    expect_abandoned "$work/target-c.img" "disk-safety: the root disk booted normally" "A(c): after the restore kernel"
    fsck_clean ext4 "$work/root-c.img" "A(c)"

    # (b) the untouched disks: the restore resumes the system, which verifies
    # itself, writes on its root and leaves it read-only.
    # shellcheck disable=SC2046
    boot Ab "$kernel" "$initrd" "$R_BASE khib.image=/dev/vdb khibtest.scenario=restore-expected" $(rootdisks "")
    expect_in Ab "KHIBTEST: PASS A(b) after the resume: process counter advancing" "A(b): restored and resumed"
    expect_state "$work/target.img" CONSUMED "A(b): after the resume"
    fsck_clean ext4 "$work/root.img" "A(b)"
    rm -f "$work"/root*.img "$work"/target*.img
}

# ---- Part B: every type khib checks, and what it refuses --------------------
TYPES="ext4 xfs btrfs vfat"
dev_of() {   # dev_of TYPE: its disk in the guests (guest/ds-lib.sh)
    case "$1" in ext4) echo vdb ;; xfs) echo vdc ;; btrfs) echo vdd ;; vfat) echo vde ;; esac
}
kind_of() {   # kind_of TYPE: how khib-restore names the type
    case "$1" in ext4) echo ext2/3/4 ;; *) echo "$1" ;; esac
}
# disks SET: the -drive options of the disk set SET ("" the originals, else
# copies made by copy_set): vda target, vdb ext4, vdc xfs, vdd btrfs, vde
# vfat, vdf minix, vdg the loop device's image.
disks() {
    for d in t ext4 xfs btrfs vfat minix loop; do
        printf -- '-drive file=%s,if=virtio,format=raw ' "$work/$d$1.img"
    done
}
copy_set() {   # copy_set SET: fresh sparse copies of every disk
    for d in t ext4 xfs btrfs vfat minix loop; do
        cp --sparse=always "$work/$d.img" "$work/$d$1.img"
    done
}

part_b_save() {
    truncate -s 1G "$work/t.img"
    truncate -s 64M "$work/ext4.img"
    mkfs.ext4 -q -F "$work/ext4.img"
    truncate -s 300M "$work/xfs.img"
    mkfs.xfs -q -f "$work/xfs.img"
    truncate -s 128M "$work/btrfs.img"
    mkfs.btrfs -q -f "$work/btrfs.img" > /dev/null
    truncate -s 32M "$work/vfat.img"
    mkfs.vfat "$work/vfat.img" > /dev/null
    truncate -s 8M "$work/minix.img"
    mkfs.minix "$work/minix.img" > /dev/null
    truncate -s 8M "$work/loop.img"
    mkfs.ext4 -q -F "$work/loop.img"
    # shellcheck disable=SC2046
    boot B "$kernel" "$initrd" "khibtest.scenario=ds-types" $(disks "")
    expect_in B "image saved: powering off" "B: the transient kernel saved the image and powered off"
    expect_state "$work/t.img" COMMITTED "B: after the save"
    expect_recorded "$work/t.img" "B: after the save" 4 "/mnt/ext4 (ext2/3/4 on vdb)" "/mnt/xfs (xfs on vdc)" \
        "/mnt/btrfs (btrfs on vdd)" "/mnt/vfat (vfat on vde)"
}

# For each type, a normal boot writes to it alone: the restore kernel refuses.
part_b_types() {
    for t in $TYPES; do
        copy_set "-$t"
        # shellcheck disable=SC2046
        boot "touch-$t" "$kernel" "$initrd" "khibtest.scenario=ds-touch khibtest.fs=$t" $(disks "-$t")
        # shellcheck disable=SC2046
        boot_r "refuse-$t" "$kernel" "$initrd" "$R_BASE khib.image=/dev/vda khibtest.scenario=refused" $(disks "-$t")
        refused "refuse-$t" /dev/vda "the file system at /mnt/$t ($(kind_of "$t") on $(dev_of "$t")) was" \
            "B $t mounted and written by a normal boot"
        expect_abandoned "$work/t-$t.img" "*exit 3*" "B $t: the refused image, retired"
        fsck_clean "$t" "$work/$t-$t.img" "B $t"
        rm -f "$work"/*"-$t.img"
    done
}

# ---- Part C: the distribution hook retires the image on a normal boot ------
part_c() {
    copy_set -hook
    # shellcheck disable=SC2046
    boot C "$kernel" "$initrd" "khibtest.scenario=ds-hook" $(disks -hook)
    expect_in C "on /dev/vda abandoned: " "C: the console shows the hook's abandon line"
    quote C "khib-restore: image .* abandoned: "
    hook_reason="a normal boot started*"   # the hook's own words
    expect_abandoned "$work/t-hook.img" "$hook_reason" "C: after the hook"
    # shellcheck disable=SC2046
    boot_r C-r "$kernel" "$initrd" "$R_BASE khib.image=/dev/vda khibtest.scenario=noimage" $(disks -hook)
    abandoned C-r /dev/vda "$hook_reason" "C retired by the hook"
    fsck_clean ext4 "$work/ext4-hook.img" "C"
    rm -f "$work"/*-hook.img
}

# ---- Part B, the end: the untouched disks restore and resume ----------------
part_b_resume() {
    # shellcheck disable=SC2046
    boot B-r "$kernel" "$initrd" "$R_BASE khib.image=/dev/vda khibtest.scenario=restore-expected" $(disks "")
    expect_in B-r "KHIBTEST: PASS B5 after the resume: process counter advancing" "B: restored and resumed"
    expect_state "$work/t.img" CONSUMED "B: after the resume"
    for t in $TYPES; do
        fsck_clean "$t" "$work/$t.img" "B after the resume"
    done
}

if part A; then part_a; fi
if part B || part C; then part_b_save; fi
if part B; then part_b_types; fi
if part C; then part_c; fi
if part B; then part_b_resume; fi
log "$boots boots in $(($(date +%s) - started)) s"
finish
