#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# khib's rescue stick (mkrescue-stick.sh, docs/rescue-stick.md), attached as
# USB storage and booted from it, under SeaBIOS and under OVMF.  The test
# types at the serial console as a user would (lib/drive-serial.pl): GRUB's
# menu keys, the restore initramfs's answers.  Per firmware, two QEMU runs:
#
#   1. the stick's "Resume" finds no image and says so, and offers the
#      installed system: Enter restarts; the stick's "Boot the installed
#      system" boots the GRUB menu of the guest's disk, whose entry starts the
#      busybox test guest; it hibernates (memory patterns, a process, an ext4
#      file system being written) and powers off;
#   2. the stick's "Resume" finds the image by its superblock and resumes it;
#      the guest verifies itself.  Under OVMF a copy of the SeaBIOS guest's
#      committed image is attached too: the stick lists both with their host
#      names, the test chooses the UEFI one, the other stays COMMITTED.
#
# At the end: both images CONSUMED, fsck and the records of both file
# systems, and the phases of each resume through the stick.
set -eu
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
started=$(date +%s)
OVMF_CODE=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
# How long the test waits for each thing it answers (TCG, a loaded machine).
STEP_TIMEOUT=${STEP_TIMEOUT:-300}
for f in "$OVMF_CODE" "$OVMF_VARS"; do
    [ -f "$f" ] || { log "$f missing: apt-get install ovmf (tools/install-deps.sh)"; exit 1; }
done

kernel='' initrd='' work=''  # set by scenario_setup (lib/common.sh)
scenario_setup

# The stick, as a user writes it, with the test kernel and the serial port as
# its console.
if "$KHIB_TOP/mkrescue-stick.sh" --kernel "$kernel" --initrd "$(dirname "$initrd")/khib-initrd.img" \
    --console ttyS0 --timeout 30 --append "khib.wait=1 panic=-1" --config /dev/null "$work/stick.img" \
    > "$work/mkstick.log" 2>&1; then
    pass "mkrescue-stick.sh wrote the stick ($(wc -c < "$work/stick.img") bytes)"
else
    fail "mkrescue-stick.sh: $(tail -n 3 "$work/mkstick.log")"
    finish
fi

# The "installed system": a disk with a GRUB menu whose entry boots the test
# guest (kernel and initramfs beside it), as a distribution's /boot would.
mkdir -p "$work/installed/boot/grub"
cp "$kernel" "$work/installed/boot/vmlinuz"
cp "$initrd" "$work/installed/boot/guest.img"
cat > "$work/installed/boot/grub/grub.cfg" <<'EOF'
set timeout=0
menuentry "khib test guest" {
    linux /boot/vmlinuz console=ttyS0 panic=-1 khibtest.scenario=rescue
    initrd /boot/guest.img
}
EOF
mke2fs -q -F -t ext2 -d "$work/installed" "$work/installed.img" \
    "$(($(du -sm "$work/installed" | cut -f1) + 16))M" > /dev/null
for fw in bios uefi; do
    truncate -s 1G "$work/target-$fw.img"
    truncate -s 64M "$work/data-$fw.img"
    mkfs.ext4 -q -F "$work/data-$fw.img"
done

# stick_run LOG FIRMWARE REBOOT EXTRA [REGEX ANSWER]...: one QEMU run booting
# from the stick with FIRMWARE's target and data disks, the installed disk
# and EXTRA (an image file, or ""); REBOOT "reboot" lets the guest restart.
# The paths have no spaces: mktemp's.
stick_run() {
    slog=$1 sfw=$2 sreboot=$3 sextra=$4
    shift 4
    firmware=
    if [ "$sfw" = uefi ]; then
        cp "$OVMF_VARS" "$work/vars.fd"
        firmware="-drive if=pflash,format=raw,readonly=on,file=$OVMF_CODE -drive if=pflash,format=raw,file=$work/vars.fd"
    fi
    # vda the target, vdb the ext4 disk, vdc the installed system, vdd EXTRA
    # (every disk a -device, in this order: QEMU puts if=virtio drives after
    # them).  A boot index on the installed disk: with QEMU's boot order,
    # OVMF connects only the devices in it, and GRUB sees no other disk.
    disks="-drive file=$work/target-$sfw.img,if=none,id=vda,format=raw -device virtio-blk-pci,drive=vda"
    disks="$disks -drive file=$work/data-$sfw.img,if=none,id=vdb,format=raw -device virtio-blk-pci,drive=vdb"
    disks="$disks -drive file=$work/installed.img,if=none,id=vdc,format=raw,readonly=on"
    disks="$disks -device virtio-blk-pci,drive=vdc,bootindex=1"
    [ -z "$sextra" ] || disks="$disks -drive file=$sextra,if=none,id=vdd,format=raw -device virtio-blk-pci,drive=vdd"
    noreboot=-no-reboot
    [ "$sreboot" = reboot ] && noreboot=
    stamp "qemu start" > "$slog"
    # shellcheck disable=SC2086 # $firmware, $disks and $noreboot are word lists
    perl "$KHIB_TOP/tests/qemu/lib/drive-serial.pl" "$slog" "$STEP_TIMEOUT" "$@" -- \
        timeout -k 5 "$QEMU_TIMEOUT" qemu-system-x86_64 -machine pc -accel tcg -m 1G -smp 2 \
        -display none -monitor none -serial stdio $noreboot $firmware \
        -device qemu-xhci -drive if=none,id=stick,format=raw,readonly=on,file="$work/stick.img" \
        -device usb-storage,drive=stick,bootindex=0 $disks 2> "$slog.qemu" && src=0 || src=$?
    stamp "qemu exit $src" >> "$slog"
}

# GRUB's menu is up (its help line: the entries' titles show elsewhere too).
menu='keys to select which entry is highlighted'
state() { "$KHIB_TOP/build/khib-restore" --image "$1" --info 2>/dev/null | sed -n 's/^state: *//p'; }
# phase LOG FROM TO: seconds between the first lines holding FROM and TO.
phase() {
    a=$(at "$1" "$2") b=$(at "$1" "$3")
    if [ -n "$a" ] && [ -n "$b" ]; then perl -e 'printf "%.1f", $ARGV[1] - $ARGV[0]' "$a" "$b"; else echo "?"; fi
}

for fw in bios uefi; do
    name=SeaBIOS
    [ "$fw" = uefi ] && name=OVMF
    log "$name: the stick without an image, then the installed system, which hibernates"
    l=$work/$fw-hibernate.log
    stick_run "$l" "$fw" reboot "" "$menu" r "press Enter to restart" '\n' "$menu" b "image saved: powering off" ""
    before=$FAILED
    expect "$l" "khib-init: rescue stick: looking for a hibernation image" "$name: the stick's Resume started the restore kernel (USB boot)"
    expect "$l" "khib-init: no hibernation image to resume on this machine's disks" "$name: no image: the stick says so"
    expect "$l" 'choose "Boot the installed system" in the stick' "$name: no image: the stick offers the installed system"
    expect "$l" "khib rescue stick: the installed system's menu: (" "$name: Boot the installed system: the installed disk's GRUB menu"
    expect "$l" "rescue: installed system up as khib-$fw" "$name: the installed system booted (as khib-$fw: $([ "$fw" = uefi ] && echo "a UEFI boot" || echo "a BIOS boot"))"
    expect "$l" "image saved: powering off" "$name: hibernated: the transient kernel saved and powered off"
    [ "$(state "$work/target-$fw.img")" = COMMITTED ] && pass "$name: the image is COMMITTED" ||
        fail "$name: the image is $(state "$work/target-$fw.img"), not COMMITTED"
    [ "$FAILED" = "$before" ] || show_log "$l"
    # A second committed image, of another machine, for the OVMF run.
    [ "$fw" = bios ] && cp --sparse=always "$work/target-bios.img" "$work/other.img"

    extra=
    set -- "$menu" r
    if [ "$fw" = uefi ]; then
        extra=$work/other.img
        set -- "$@" '([0-9]+)\) /dev/vd[a-z]+: the system of host khib-uefi' '\1\n'
    fi
    log "$name: the stick resumes"
    l=$work/$fw-resume.log
    stick_run "$l" "$fw" no "$extra" "$@" "KHIBTEST: DONE" ""
    before=$FAILED
    collect "$l"
    if [ "$fw" = uefi ]; then
        expect "$l" "khib-init: 2 hibernation images on this machine's disks:" "$name: two committed images: the stick lists them"
        for h in bios uefi; do
            if grep -qE "khib-init:   [12]\) /dev/vd[a-z]+: the system of host khib-$h \(kernel [^ ]+, hibernated 20" "$l"; then
                pass "$name: the list names khib-$h's image with its kernel release and time"
            else
                fail "$name: the list has no line for khib-$h's image"
            fi
        done
    fi
    expect "$l" "khib-init: resuming the system of host khib-$fw" "$name: the stick resumes khib-$fw's image"
    expect "$l" "KHIBTEST: PASS khib-$fw: process counter advancing" "$name: resumed through the stick and verified"
    expect "$l" "KHIBTEST: DONE" "$name: the resumed guest finished"
    [ "$(state "$work/target-$fw.img")" = CONSUMED ] && pass "$name: the image is CONSUMED" ||
        fail "$name: the image is $(state "$work/target-$fw.img"), not CONSUMED"
    check_filesystem "$work/data-$fw.img"
    [ "$FAILED" = "$before" ] || show_log "$l"
    echo "$name resume through the stick: firmware and GRUB $(phase "$l" "qemu start" "drive-serial: typed 'r'") s," \
        "GRUB loads the kernel $(phase "$l" "drive-serial: typed 'r'" "Linux version") s," \
        "kernel to /init $(phase "$l" "Linux version" "rescue stick: looking for") s," \
        "scan $(phase "$l" "rescue stick: looking for" "khib-init: resuming") s," \
        "restore $(phase "$l" "khib-init: resuming" "jumping into the restored system") s," \
        "jump to the first check $(phase "$l" "jumping into the restored system" "KHIBTEST: PASS") s"
    grep -F "khib-restore: restored image" "$l" | sed 's/^\[[0-9.]*\] /    /' || true
done
if [ "$(state "$work/other.img")" = COMMITTED ]; then
    pass "OVMF: the image not chosen (khib-bios's copy) is untouched: COMMITTED"
else
    fail "OVMF: the image not chosen (khib-bios's copy) is $(state "$work/other.img"), not COMMITTED"
fi
echo "rescue-stick: $(($(date +%s) - started)) s"
finish
