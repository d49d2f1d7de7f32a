#!/bin/sh
# The rescue stick on the host (docs/rescue-stick.md): khib-restore --scan
# over image files made by khib-gencore and khib-save; mkrescue-stick.sh's
# image (both platforms' boot images, the menu and its command line) and its
# refusals; initramfs/init's khib.role=rescue in a chroot with a stub
# khib-restore (as root only; skipped otherwise).  The stick booted for real:
# tests/qemu/rescue-stick.sh.  Ends with "N passed, N failed".
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/khib-rescue.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/lib/check.sh
# shellcheck disable=SC1091 # followed by shellcheck -x
. "$root/tests/lib/check.sh"
REAL=$root/build/khib-restore

# --- khib-restore --scan --------------------------------------------------
if [ -x "$root/build/khib-gencore" ] && [ -x "$root/build/khib-save" ] && [ -x "$REAL" ]; then
    for i in 1 2; do
        "$root/build/khib-gencore" --out "$work/c$i.core" --size 4M --seed "$i" --note > /dev/null
        "$root/build/khib-save" --core "$work/c$i.core" --target "$work/img$i" --quiet > /dev/null 2>&1
    done
    truncate -s 1M "$work/empty"
    printf 'short' > "$work/short"
    rc=0
    out=$("$REAL" --scan "$work/img1" "$work/empty" "$work/img2" "$work/short" 2>&1) || rc=$?
    tab=$(printf '\t')
    line="COMMITTED${tab}khibtest-gen${tab}6.12.0-khib-test${tab}20[0-9-]* [0-9:]* UTC${tab}[0-9a-f-]\{36\}"
    if [ "$rc" = 0 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 2 ] &&
        printf '%s\n' "$out" | sed -n 1p | grep -qx "$work/img1${tab}$line" &&
        printf '%s\n' "$out" | sed -n 2p | grep -qx "$work/img2${tab}$line"; then
        pass "--scan: two committed images, one line each (device, state, host, release, time, uuid), exit 0"
    else
        fail "--scan: two committed images" "exit $rc" "$out"
    fi
    "$REAL" --image "$work/img1" --abandon "a test" 2> /dev/null
    "$REAL" --image "$work/img2" --abandon "a test" 2> /dev/null
    rc=0
    out=$("$REAL" --scan "$work/img1" "$work/img2" 2>&1) || rc=$?
    if [ "$rc" = 10 ] && [ "$(printf '%s\n' "$out" | grep -c "${tab}ABANDONED${tab}khibtest-gen${tab}")" = 2 ]; then
        pass "--scan: abandoned images listed as ABANDONED, none committed: exit 10"
    else
        fail "--scan: abandoned images" "exit $rc" "$out"
    fi
    printf 'X' | dd of="$work/img1" bs=1 seek=100 conv=notrunc status=none
    rc=0
    out=$("$REAL" --scan "$work/img1" 2>&1) || rc=$?
    if [ "$rc" = 10 ] && printf '%s\n' "$out" | grep -q "checksum mismatch" &&
        printf '%s\n' "$out" | grep -qx "$work/img1${tab}DAMAGED${tab}-${tab}-${tab}-${tab}-"; then
        pass "--scan: a damaged superblock listed as DAMAGED, the cause on stderr"
    else
        fail "--scan: a damaged superblock" "exit $rc" "$out"
    fi
    info=$("$REAL" --image "$work/img2" --info 2>&1 || true)
    check "--info shows the host name" sh -c 'printf "%s\n" "$1" | grep -qx "host name: *khibtest-gen"' sh "$info"
    mkdir -p "$work/sys/ram0" "$work/sys/sr0"
    echo 8192 > "$work/sys/ram0/size"
    echo 0 > "$work/sys/sr0/size"
    rc=0
    out=$("$REAL" --scan --sys-block "$work/sys" 2>&1) || rc=$?
    if [ "$rc" = 10 ] && [ -z "$out" ]; then
        pass "--scan of a block device list: RAM disks and empty drives are not read"
    else
        fail "--scan of a block device list" "exit $rc" "$out"
    fi
    rc=0
    out=$("$REAL" --scan --image "$work/img2" 2>&1) || rc=$?
    check "--scan with --image: usage error" test "$rc" = 1
else
    echo "note: build/khib-gencore, khib-save or khib-restore missing: the --scan checks were skipped (make)"
fi

# --- mkrescue-stick.sh -------------------------------------------------------
mk=$root/mkrescue-stick.sh
head -c 100000 /dev/urandom > "$work/vmlinuz"
head -c 50000 /dev/urandom > "$work/initrd"
if command -v grub-mkrescue > /dev/null && command -v xorriso > /dev/null && [ -d /usr/lib/grub/i386-pc ] &&
    [ -d /usr/lib/grub/x86_64-efi ]; then
    rc=0
    out=$("$mk" --kernel "$work/vmlinuz" --initrd "$work/initrd" --window 256M --timeout 7 \
        --append "khib.wait=9" --config /dev/null "$work/stick.img" 2>&1) || rc=$?
    if [ "$rc" = 0 ] && [ -s "$work/stick.img" ]; then
        pass "mkrescue-stick.sh writes an image file"
    else
        fail "mkrescue-stick.sh writes an image file" "exit $rc" "$out"
    fi
    boot=$(xorriso -indev "$work/stick.img" -report_el_torito plain 2>/dev/null || true)
    if printf '%s\n' "$boot" | grep -q 'El Torito boot img : *1 *BIOS' &&
        printf '%s\n' "$boot" | grep -q 'El Torito boot img : *2 *UEFI'; then
        pass "the stick boots BIOS and UEFI (El Torito boot images of both)"
    else
        fail "the stick boots BIOS and UEFI" "$boot"
    fi
    xorriso -osirrox on -indev "$work/stick.img" -extract /boot/grub/grub.cfg "$work/grub.cfg" \
        -extract /khib/vmlinuz "$work/x-vmlinuz" -extract /khib/khib-initrd.img "$work/x-initrd" > /dev/null 2>&1 || true
    if cmp -s "$work/vmlinuz" "$work/x-vmlinuz" && cmp -s "$work/initrd" "$work/x-initrd"; then
        pass "the stick holds the kernel and the initramfs given"
    else
        fail "the stick holds the kernel and the initramfs given"
    fi
    cfg=$(cat "$work/grub.cfg" 2>/dev/null || true)
    resume_line="linux /khib/vmlinuz console=ttyS0,115200 console=tty0 nokaslr memmap=exactmap memmap=640K@0 memmap=255M@1M khib.role=rescue khib.wait=9"
    if printf '%s\n' "$cfg" | grep -qF "$resume_line" && printf '%s\n' "$cfg" | grep -qx 'set timeout=7' &&
        printf '%s\n' "$cfg" | grep -q '^menuentry "Resume the hibernated system on this machine"' &&
        printf '%s\n' "$cfg" | grep -q '^menuentry "Boot the installed system"' &&
        printf '%s\n' "$cfg" | grep -qF 'configfile "$path"'; then
        pass "the menu: resume (the window's confinement, khib.role=rescue, the extra words), the installed system"
    else
        fail "the menu" "$cfg"
    fi
    printf 'target=/dev/vdb\nwindow=320M\n' > "$work/khib.conf"
    "$mk" --kernel "$work/vmlinuz" --initrd "$work/initrd" --config "$work/khib.conf" --console ttyS0 \
        "$work/stick2.img" > /dev/null 2>&1 || true
    xorriso -osirrox on -indev "$work/stick2.img" -extract /boot/grub/grub.cfg "$work/grub2.cfg" > /dev/null 2>&1 || true
    check "window= of khib.conf, --console ttyS0 last" \
        grep -qF "console=tty0 console=ttyS0,115200 nokaslr memmap=exactmap memmap=640K@0 memmap=319M@1M khib.role=rescue" \
        "$work/grub2.cfg"
else
    echo "note: grub-mkrescue, xorriso or GRUB's i386-pc/x86_64-efi files missing: the stick image checks were skipped"
fi
refuse() {   # refuse NAME PATTERN ARGS...: mkrescue-stick.sh fails, saying PATTERN
    name=$1 pattern=$2
    shift 2
    rc=0
    out=$("$mk" --initrd "$work/initrd" --config /dev/null "$@" 2>&1) || rc=$?
    if [ "$rc" != 0 ] && printf '%s\n' "$out" | grep -q -- "$pattern"; then pass "$name"
    else fail "$name" "exit $rc" "$out"; fi
}
refuse "refused: a missing kernel" "kernel $work/none not found" --kernel "$work/none" "$work/x.img"
refuse "refused: a window below 64M" "below 64M" --kernel "$work/vmlinuz" --window 32M "$work/x.img"
refuse "refused: a window not in MiB" "not a size" --kernel "$work/vmlinuz" --window 1000 "$work/x.img"
refuse "refused: another console" "tty0 or ttyS0" --kernel "$work/vmlinuz" --console hvc0 "$work/x.img"
refuse "refused: no DEV or FILE" "Usage" --kernel "$work/vmlinuz"
refuse "refused: an unknown option" "unknown option --bogus" --bogus "$work/x.img"
[ ! -e "$work/x.img" ] && pass "nothing written when refused" || fail "nothing written when refused"

# --- initramfs/init, khib.role=rescue ------------------------------------------
# In a chroot: busybox as sh and its tools, stubs for mount, reboot and
# khib-restore; the stub's --scan prints /scan and exits /scan.rc.
busybox=$(command -v busybox || true)
chroot=$(command -v chroot || true)
if [ "$(id -u)" = 0 ] && [ -n "$busybox" ] && [ -n "$chroot" ] && ! ldd "$busybox" > /dev/null 2>&1 &&
    mkdir -p "$work/ir/dev" && mknod "$work/ir/dev/vda" b 7 250 2> /dev/null &&
    mknod "$work/ir/dev/vdb1" b 7 251 2> /dev/null; then
    ir=$work/ir
    mkdir -p "$ir/bin" "$ir/proc" "$ir/sys/class/block/vdb1" "$ir/tmp" "$ir/usr/lib/khib"
    cp "$busybox" "$ir/bin/busybox"
    for applet in sh sleep sync cat grep printf; do ln -s busybox "$ir/bin/$applet"; done
    cp "$root/initramfs/init" "$ir/init"
    cp "$root/hooks/khib-lib.sh" "$ir/usr/lib/khib/khib-lib.sh"
    printf 'MAJOR=7\nPARTN=1\nPARTNAME=khib\n' > "$ir/sys/class/block/vdb1/uevent"
    for stub in mount reboot khib-restore; do
        {
            echo '#!/bin/sh'
            # shellcheck disable=SC2016 # written into the stub as it is
            printf '%s\n' "{ printf '$stub'; for a; do printf ' [%s]' \"\$a\"; done; echo; } >> /log"
        } > "$ir/bin/$stub"
    done
    printf 'kill -KILL "$PPID"\nexit 0\n' >> "$ir/bin/reboot"
    cat >> "$ir/bin/khib-restore" <<'STUB'
case "$1" in --scan) cat /scan; exit "$(cat /scan.rc)" ;; esac
[ "$3" = --abandon ] && exit 0
rc=3
[ ! -f /restore.rc ] || rc=$(cat /restore.rc)
echo "khib-restore: stub says exit $rc"
exit "$rc"
STUB
    chmod 755 "$ir/init" "$ir/bin/"*
    img() { printf '%s\t%s\t%s\t6.12.117-khib\t2026-12-01 10:00:00 UTC\tuuid\n' "$1" "$2" "$3"; }
    # rescue CMDLINE SCAN_RC INPUT: boot /init; sets $out and $calls
    rescue() {
        printf '%s\n' "$1" > "$ir/proc/cmdline"
        echo "$2" > "$ir/scan.rc"
        : > "$ir/log"
        out=$(printf '%s' "$3" | { env -i PATH=/bin "$chroot" "$ir" /init; } 2>&1) || true
        calls=$(grep -v '^mount \|--scan' "$ir/log" || true)
    }
    base="console=ttyS0 khib.role=rescue khib.wait=0"
    jump() { echo "khib-restore [--image] [$1] [--jump]"; }
    retired() { echo "khib-restore [--image] [$1] [--abandon] [the rescue stick's restore did not jump (khib-restore exit 3)]"; }

    : > "$ir/scan"
    rescue "$base" 10 ""
    if [ "$calls" = "reboot [-f]" ] && printf '%s\n' "$out" | grep -q "^khib-init: no hibernation image to resume on this machine's disks$" &&
        printf '%s\n' "$out" | grep -q 'choose "Boot the installed system"'; then
        pass "init rescue: no image: says so, offers the installed system, restarts on Enter"
    else
        fail "init rescue: no image" "$calls" "$out"
    fi
    img /dev/vda CONSUMED khib-a > "$ir/scan"
    rescue "$base" 10 ""
    if [ "$calls" = "reboot [-f]" ] && printf '%s\n' "$out" | grep -q "^khib-init: /dev/vda: an image of host khib-a (kernel 6.12.117-khib, hibernated 2026-12-01 10:00:00 UTC) in state CONSUMED: not resumed$"; then
        pass "init rescue: a consumed image is named, not resumed"
    else
        fail "init rescue: a consumed image" "$calls" "$out"
    fi
    { img /dev/vda CONSUMED khib-a; img /dev/vdb1 COMMITTED khib-b; } > "$ir/scan"
    rescue "$base" 0 ""
    if [ "$calls" = "$(jump /dev/vdb1; retired /dev/vdb1; echo "reboot [-f]")" ] &&
        printf '%s\n' "$out" | grep -q "^khib-init: resuming the system of host khib-b (kernel 6.12.117-khib, hibernated 2026-12-01 10:00:00 UTC) from /dev/vdb1$" &&
        printf '%s\n' "$out" | grep -q "nothing resumed, so the image is retired"; then
        pass "init rescue: one committed image: resumed without a question; refused (3): retired, the installed system offered"
    else
        fail "init rescue: one committed image" "$calls" "$out"
    fi
    # An encrypted image that stays locked (11): kept, not retired.
    echo 11 > "$ir/restore.rc"
    rescue "$base" 0 ""
    rm -f "$ir/restore.rc"
    if [ "$calls" = "$(jump /dev/vdb1; echo "reboot [-f]")" ] &&
        printf '%s\n' "$out" | grep -q "^khib-init: the image stays locked (no right passphrase): nothing resumed, the image is kept$"; then
        pass "init rescue: the image stays locked (11): kept, not retired, the installed system offered"
    else
        fail "init rescue: the image stays locked (11)" "$calls" "$out"
    fi
    { img /dev/vda COMMITTED khib-a; img /dev/vdb1 COMMITTED khib-b; } > "$ir/scan"
    rescue "$base" 0 "x
3
2
"
    if [ "$calls" = "$(jump /dev/vdb1; retired /dev/vdb1; echo "reboot [-f]")" ] &&
        printf '%s\n' "$out" | grep -q "^khib-init: 2 hibernation images on this machine's disks:$" &&
        printf '%s\n' "$out" | grep -q "^khib-init:   1) /dev/vda: the system of host khib-a (kernel 6.12.117-khib, hibernated 2026-12-01 10:00:00 UTC)$" &&
        printf '%s\n' "$out" | grep -q "^khib-init:   2) /dev/vdb1: the system of host khib-b" &&
        [ "$(printf '%s\n' "$out" | grep -c "is not one of 1-2 or b")" = 2 ]; then
        pass "init rescue: two committed images: a numbered list, wrong answers asked again, the chosen one resumed"
    else
        fail "init rescue: two committed images" "$calls" "$out"
    fi
    rescue "$base" 0 "b
"
    if [ "$calls" = "reboot [-f]" ] && printf '%s\n' "$out" | grep -q 'choose "Boot the installed system"'; then
        pass "init rescue: two images, b: nothing resumed or retired, the installed system offered"
    else
        fail "init rescue: two images, b" "$calls" "$out"
    fi
    rescue "$base khib.image=PARTLABEL=khib" 0 ""
    if [ "$calls" = "$(jump /dev/vdb1; retired /dev/vdb1; echo "reboot [-f]")" ]; then
        pass "init rescue: khib.image=PARTLABEL=khib: the partition of that GPT name, no scan"
    else
        fail "init rescue: khib.image=PARTLABEL=" "$calls" "$out"
    fi
    rescue "$base khib.image=/dev/vda" 0 ""
    if [ "$calls" = "$(jump /dev/vda; retired /dev/vda; echo "reboot [-f]")" ] && ! grep -q -- --scan "$ir/log"; then
        pass "init rescue: khib.image=/dev/vda: that device, no scan"
    else
        fail "init rescue: khib.image=/dev/vda" "$calls" "$out"
    fi
else
    echo "note: not root, or no static busybox, or no mknod: initramfs/init's rescue checks were skipped"
fi

check "shellcheck of the stick's files" shellcheck -x -S warning "$mk" "$0" "$root/initramfs/init" \
    "$root/tests/qemu/rescue-stick.sh"
counts
