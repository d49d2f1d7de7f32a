# shellcheck shell=sh
# Guest side of tests/qemu/file-target.sh (sourced by guest.sh): the image in
# a file (docs/file-target.md).  Disks: vda ext4, vdb xfs, vdc btrfs, all
# mounted.  One boot of this script spans three hibernations:
#   btrfs refused; what the file system reads over an unwritten extent that
#   was written raw; a moved, hole-punched, truncated and no longer
#   immutable file each refused before the jump, nothing written;
#   cycle 1: the image in a file on the ext4 (resumed by the host's restore
#   boot with khib.image=/dev/vda khib.offset=N), verified;
#   cycle 2: the same on the xfs, verified;
#   hibernation 3 on the xfs: the host then boots a system that mounts the
#   xfs and writes to it, and the restore kernel must refuse the image.
# The host learns each file's offset from the line "khibtest-offset FS N".
# shellcheck disable=SC1091
. /test/ds-lib.sh
TL=/test/khib-testload
kh() {   # kh COMMAND [OPTIONS]: khib with the test guest's kernel and initramfs
    kh_cmd=$1
    shift
    khib "$kh_cmd" --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img "$@"
}
SIZE=256M

conf_get() {   # conf_get FILE KEY
    sed -n "s/^$2=//p" "$1" | tail -n 1
}

# zeros_at DEV OFFSET: the first 64 KiB at OFFSET of DEV are zero (nothing
# of an image was written there).
zeros_at() {
    dd if="$1" bs=4096 skip=$(($2 / 4096)) count=16 2>/dev/null | cmp -s - /dev/zero -n 65536 2>/dev/null ||
        [ "$(dd if="$1" bs=4096 skip=$(($2 / 4096)) count=16 2>/dev/null | od -An -v -tx1 | tr -d ' \n' | tr -d 0)" = "" ]
}

fresh() {   # fresh FILE CONF: a new 64M image file set up into CONF
    [ -e "$1" ] && $TL attr "$1" -i && rm -f "$1"
    khib setup-target --file "$1" --size 64M --config "$2" > /dev/null 2>&1
}

# cycle LABEL DEV OFFSET: hibernate to the configured image file, resumed
# by the host's restore boot; everything verified, the image CONSUMED.
cycle() {
    ds_run kh hibernate
    ds_expect "$1: khib hibernate resumed and returned 0" 0
    verify_resumed "$1"
    check "$1: the record writer on the ext4 runs on" kill -0 "$WRITER_PID"
    check "$1: the xfs data unchanged" sha256sum -c -s /run/xfs.sha256
    ds_run khib-restore --image "$2" --offset "$3" --info
    ds_line "$1: the image is CONSUMED" "state:" CONSUMED
}

mkdir -p /mnt/e /mnt/x /mnt/b
mount -t ext4 /dev/vda /mnt/e || result FAIL "mount the ext4 on vda"
mount -t xfs /dev/vdb /mnt/x || result FAIL "mount the xfs on vdb"
mount -t btrfs /dev/vdc /mnt/b || result FAIL "mount the btrfs on vdc"

# --- btrfs: refused, nothing created ---------------------------------------
ds_run khib setup-target --file /mnt/b/khib.img --size 64M --config /tmp/b.conf
ds_expect "btrfs: setup-target refused" 3 "not on ext2/3/4 or xfs but on btrfs" "btrfs_swap_activate"
check "btrfs: nothing created" test ! -e /mnt/b/khib.img
umount /mnt/b

# --- an unwritten extent, written raw: the file system reads zeros ---------
# The host writes KHIBRAW! at the extent's device byte while this system is
# hibernated (cycle 1), as the transient kernel writes an image: a running
# kernel may refuse writes to a mounted disk (CONFIG_BLK_DEV_WRITE_MOUNTED).
fallocate -l 64M /mnt/e/unwritten.img
sync
# shellcheck disable=SC2046 # the words of one line
set -- $($TL fiemap /mnt/e/unwritten.img)
uphys=$2
if [ "$6" = 1 ]; then result PASS "unwritten: fallocate left the extent at byte $uphys unwritten"
else result FAIL "unwritten: fallocate's extent has flags $4"; fi
echo "khibtest-offset unwritten $uphys"
ds_run khib setup-target --file /mnt/e/unwritten.img --size 64M --config /tmp/u.conf
ds_expect "unwritten: setup-target refuses the file" 3 "allocated but unwritten"

# --- refusals before the jump: nothing written -------------------------------
F=/mnt/e/small.img
C=/tmp/small.conf
ds_run khib setup-target --file $F --size 64M --config $C
ds_expect "setup-target on ext4" 0 "first block at byte" "rebuild the initramfs"
ds_run kh check --config $C
ds_line "khib check names the image file" "PASS  target $F is an image file" "as /etc/khib.conf says"
off=$(conf_get $C target-offset)
$TL attr $F -i && cp $F $F.new && rm $F && mv $F.new $F && $TL attr $F +i
ds_run kh hibernate --config $C
ds_expect "moved: khib hibernate refuses" 3 "moved: its first block is at byte" "rebuild the initramfs"
new=$($TL fiemap $F | cut -d' ' -f2)
check "moved: nothing written at the old ($off) or the new ($new) first block" zeros_at /dev/vda "$off" "$new"
ds_run khib setup-target --file $F --size 64M --config $C
ds_expect "moved: setup-target again records the new place" 0 "first block at byte $new"
$TL attr $F -i && $TL punch $F 1048576 1048576 && $TL attr $F +i
ds_run kh hibernate --config $C
ds_expect "hole punched: khib hibernate refuses" 3 "has a hole"
check "hole punched: nothing written" zeros_at /dev/vda "$new"
fresh $F $C
$TL attr $F -i && truncate -s 32M $F && $TL attr $F +i
ds_run kh hibernate --config $C
ds_expect "truncated: khib hibernate refuses" 3 "truncated or extended"
fresh $F $C
off=$(conf_get $C target-offset)
$TL attr $F -i
ds_run kh hibernate --config $C
ds_expect "not immutable: khib hibernate refuses" 3 "it is not immutable"
check "not immutable: nothing written" zeros_at /dev/vda "$off"
ds_run khib-restore --image /dev/vda --offset "$off" --info
ds_expect "khib-restore finds no image at the refused file" 10 "no KHIBIMG1 magic at byte $off"
# A test snapshot into the file: the transient kernel retires it itself.
$TL attr $F +i
ds_run kh hibernate --test --config $C
ds_expect "test snapshot into the file" 0 "snapshot saved"
ds_run khib-restore --image /dev/vda --offset "$off" --info
ds_line "test snapshot: retired (CONSUMED)" "state:" CONSUMED
$TL attr $F -i && rm $F

# --- cycle 1: the image in a file on the ext4 ----------------------------------
ds_run khib setup-target --file /mnt/e/khib.img --size $SIZE
ds_expect "ext4: setup-target --file /mnt/e/khib.img" 0 "on ext4 (/dev/vda)"
eoff=$(conf_get /etc/khib.conf target-offset)
echo "khibtest-offset ext4 $eoff"
/test/khib-testload writer /mnt/e/records &
WRITER_PID=$!
start_workload 64 64
dd if=/dev/urandom of=/mnt/x/data bs=1M count=8 2>/dev/null
sha256sum /mnt/x/data > /run/xfs.sha256
sync
cycle "cycle 1 (ext4 file)" /dev/vda "$eoff"
echo 3 > /proc/sys/vm/drop_caches
reads_image() { [ "$(dd if=/mnt/e/khib.img bs=8 count=1 2>/dev/null)" = KHIBIMG1 ]; }
check "cycle 1: the file system reads the image the transient kernel wrote (written extents)" reads_image
raw=$(dd if=/dev/vda bs=8 skip=$((uphys / 8)) count=1 2>/dev/null | od -An -c | tr -d ' \n')
fs=$(dd if=/mnt/e/unwritten.img bs=8 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
if [ "$raw" = "KHIBRAW!" ] && [ "$fs" = 0000000000000000 ]; then
    result PASS "unwritten: the device holds KHIBRAW! at the extent, the file system reads zeros there"
else
    result FAIL "unwritten: the device holds '$raw', the file system reads $fs"
fi
check "unwritten: the refused file is left as it was (not immutable), and removed" rm /mnt/e/unwritten.img

# --- cycle 2: the same on the xfs ----------------------------------------------
ds_run khib setup-target --file /mnt/x/khib.img --size $SIZE
ds_expect "xfs: setup-target --file /mnt/x/khib.img" 0 "on xfs (/dev/vdb)"
xoff=$(conf_get /etc/khib.conf target-offset)
echo "khibtest-offset xfs $xoff"
cycle "cycle 2 (xfs file)" /dev/vdb "$xoff"

# --- hibernation 3: another boot mounts the xfs before the restore ---------
kill "$WRITER_PID"
wait "$WRITER_PID" 2>/dev/null
check "unmount the ext4 (its records are checked on the host)" umount /mnt/e
echo "khibtest: hibernation 3"
kh hibernate
result FAIL "hibernation 3 returned (exit $?): the host's restore should have refused it"
