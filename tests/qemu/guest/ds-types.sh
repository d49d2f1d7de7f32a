# shellcheck shell=sh
# Guest side of tests/qemu/disk-safety.sh part B (sourced by guest.sh): ext4,
# xfs, btrfs and vfat mounted read-write, each with files of known content;
# first the refusals (minix, which khib cannot check, mounted read-write; an
# ext4 on a loop device), what passes (minix read-only, minix ignored by
# ignore-fs=), then a real hibernation to vda.  After the resume: the
# workload and every file intact, a new file written on each file system,
# all unmounted for the host's fsck.
# shellcheck disable=SC1091
. /test/ds-lib.sh

for t in $DS_TYPES; do
    mkdir -p "/mnt/$t"
    if mount -t "$t" "$(ds_dev "$t")" "/mnt/$t" && echo "disk-safety: $t before the hibernation" > "/mnt/$t/before" &&
        dd if=/dev/urandom of="/mnt/$t/blob" bs=64k count=16 2>/dev/null &&
        (cd "/mnt/$t" && sha256sum before blob > "/run/ds-$t.sha256"); then
        result PASS "B: $t mounted read-write on /mnt/$t ($(ds_dev "$t")), files written"
    else
        result FAIL "B: mount $(ds_dev "$t") ($t) read-write and write its files"
    fi
done
sync
start_workload 128 64

# The file system lines of khib check: each checked type passes.
pass_lines() {   # pass_lines LABEL: every type's PASS line in the last output
    for t in $DS_TYPES; do
        dev=$(ds_dev "$t")
        ds_line "$1: $t" "PASS  file system /mnt/$t ($t on ${dev#/dev/})" "PASS"
    done
}

# 1. minix mounted read-write: khib has no check for it.
mkdir -p /mnt/minix /mnt/loop
mount -t minix /dev/vdf /mnt/minix || result FAIL "mount /dev/vdf (minix)"
ds_run ds_check
ds_expect "B1 khib check with minix mounted read-write" 3 "FAIL  file system /mnt/minix (minix on vdf)" \
    "fix: unmount it, mount it read-only, or add ignore-fs=/mnt/minix to /etc/khib.conf"
pass_lines "B1 khib check passes"
ds_run khib_hibernate
ds_expect "B1 khib hibernate with minix mounted read-write" 3 "FAIL  file system /mnt/minix (minix on vdf)" \
    "khib: not hibernating: fix the failures above"
check "B1: nothing committed to /dev/vda" no_committed_image /dev/vda
check "B1: workload intact and running after the refusal" workload_alive

# 2. minix read-only: nothing can change it, so it passes.
mount -o remount,ro /mnt/minix || result FAIL "remount /mnt/minix read-only"
ds_run ds_check
ds_expect "B2 khib check with minix mounted read-only" 0 "PASS  file system /mnt/minix (minix on vdf)"
ds_line "B2 minix read-only" "PASS  file system /mnt/minix (minix on vdf)" "read-only"
umount /mnt/minix

# 3. ext4 on a loop device: B cannot open it (it has no loop devices set up).
dd if=/dev/vdg of=/tmp/loop.img bs=1M 2>/dev/null
if losetup /dev/loop0 /tmp/loop.img && mount -t ext4 /dev/loop0 /mnt/loop; then
    ds_run ds_check
    ds_expect "B3 khib check with an ext4 on a loop device mounted read-write" 3 \
        "FAIL  file system /mnt/loop (ext4 on loop0)" "ignore-fs=/mnt/loop"
    ds_run khib_hibernate
    ds_expect "B3 khib hibernate with the loop device mounted" 3 "khib: not hibernating: fix the failures above"
    check "B3: nothing committed to /dev/vda" no_committed_image /dev/vda
    umount /mnt/loop
    losetup -d /dev/loop0
else
    result FAIL "B3: losetup /dev/loop0 and mount it"
fi

# 4. minix read-write but listed in ignore-fs=.
printf 'ignore-fs=/mnt/minix\n' > /tmp/ds-khib.conf
mount -t minix /dev/vdf /mnt/minix || result FAIL "mount /dev/vdf (minix) again"
ds_run ds_check --config /tmp/ds-khib.conf
ds_expect "B4 khib check with minix read-write and ignore-fs=/mnt/minix" 0 \
    "PASS  file system /mnt/minix (minix on vdf)"
ds_line "B4 minix ignored" "PASS  file system /mnt/minix (minix on vdf)" "ignored"
pass_lines "B4 khib check passes"
umount /mnt/minix
check "B: workload intact and running before the hibernation" workload_alive

# 5. The real hibernation.
echo "ds-types: hibernating to /dev/vda"
if khib_hibernate; then
    result PASS "B5: khib hibernate resumed and returned 0"
else
    result FAIL "B5: khib hibernate exited $?"
fi
verify_resumed "B5 after the resume"
files_intact() { (cd "/mnt/$1" && sha256sum -c -s "/run/ds-$1.sha256") && [ ! -e "/mnt/$1/touched" ]; }
write_unmount() {
    echo "disk-safety: $1 after the resume" > "/mnt/$1/after" && sync && umount "/mnt/$1"
}
for t in $DS_TYPES; do
    check "B5: $t files intact after the resume, none of a normal boot" files_intact "$t"
    check "B5: $t written after the resume and unmounted" write_unmount "$t"
done
