#!/bin/sh
# The test driver inside a Debian guest (tests/qemu/distro.sh), started by
# khibtest.service from the control disk once the system is up.  It installs
# khib's .deb with apt, configures the target, checks `khib check` and
# logind's CanHibernate, starts the workload under systemd, hibernates with
# `systemctl hibernate` twice, verifies everything after each resume, and
# purges the package.  Results are "KHIBTEST: PASS|FAIL ..." lines on the
# console; "KHIBTEST: INFO ..." lines carry figures for the host.
set -u
exec > /dev/console 2>&1
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# Where the run is, across the guest's boots ($S/phase): none (the first
# boot: install, configure, reboot), configured (the second: the
# hibernations), hibernating (set before the first one).  A resume never
# starts this unit again: the resumed system carries on in the loop below.
phase=$(cat "$S/phase" 2>/dev/null)
case "$phase" in
    hibernating)
        fail "the guest booted normally instead of resuming (khibtest.service started again)"
        stop
        ;;
    ""|configured) ;;
    *) fail "unknown phase $phase"; stop ;;
esac
mkdir -p "$S"
# shellcheck source=/dev/null
. /etc/os-release
state=$(systemctl is-system-running --wait 2>&1)
check "the system is running after boot${phase:+ with khib installed} (is-system-running: $state)" test "$state" = running
info "system up"
[ -z "$phase" ] || exec "$C/hibernate.sh"
info "release $VERSION_CODENAME, systemd $(systemctl --version | sed -n '1s/^systemd \([0-9]*\).*/\1/p'), kexec-tools $(kexec --version 2>&1 | sed -n 's/^kexec-tools //p')"

snapshot > "$S/before"
packages > "$S/packages.before"

# --- install, as a user would -----------------------------------------------
if apt-get install -y -q --no-install-recommends "$C/khib.deb" > "$S/install.log" 2>&1; then
    pass "apt-get install ./khib.deb (no network: its dependencies from apt's cache)"
else
    fail "apt-get install ./khib.deb: $(tail -n 5 "$S/install.log" | tr '\n' ' ')"
    stop
fi
check "dpkg says khib is installed" sh -c "dpkg-query -W -f='\${Status}' khib | grep -qx 'install ok installed'"
memmap_info
answer=$(logind CanHibernate)
# logind says "na" where the verb is not supported at all (systemd 252), "no" later.
check "CanHibernate is no while khib check fails (no target yet): $answer" sh -c "[ '$answer' = no ] || [ '$answer' = na ]"

# --- configure the target, as docs/install.md says --------------------------
# restore-append=khib.poison=1: R fills every page the image left out as
# free with poison before it jumps (docs/freepages.md), so that a page wrongly
# left out breaks the checks after the resume.
# The jump's marks on the console for the host (distro.sh, jump_split):
# B with earlyprintk (its first line as soon as its kernel parses its
# command line), kexec-tools with --console-serial (purgatory's line), as
# make bench-jump has them (docs/performance.md, "The jump").
printf '#!/bin/sh\nexec /usr/sbin/kexec --console-serial --serial-baud=115200 "$@"\n' > "$S/kexec-serial"
chmod 755 "$S/kexec-serial"
sed -i -e 's|^#append=.*|append=console=ttyS0 earlyprintk=serial,ttyS0,115200|' -e "s|^#kexec=.*|kexec=$S/kexec-serial|" \
    -e 's|^#restore-append=.*|restore-append=khib.poison=1|' /etc/khib.conf
check "khib.conf has R poison the excluded pages" grep -qx 'restore-append=khib.poison=1' /etc/khib.conf
if [ -n "${FILE:-}" ]; then
    # The image in a file (docs/file-target.md) on the file system that
    # holds it, mounted here: the root's ext4, or the xfs at /srv/khib.
    mkdir -p "${FILE%/*}"
    fs=$(stat -f -c %T "${FILE%/*}" 2>&1)
    if khib setup-target --file "$FILE" --size "$FILE_SIZE" > "$S/setup.log" 2>&1; then
        pass "khib setup-target --file $FILE --size $FILE_SIZE on $fs: $(grep -m 1 '^khib: created' "$S/setup.log")"
    else
        fail "khib setup-target --file $FILE --size $FILE_SIZE on $fs: $(tail -n 3 "$S/setup.log" | tr '\n' ' ')"
        stop
    fi
    image_place
    check "khib.conf names the file, its device and its first block ($IMG_DEV, byte $IMG_OFF)" \
        sh -c "grep -qx 'target=$FILE' /etc/khib.conf && [ -n '$IMG_OFF' ]"
    check "the image file is immutable" sh -c "lsattr '$FILE' | grep -q '^[^ ]*i'"
else
    sed -i 's|^#target=.*|target=/dev/vda3|' /etc/khib.conf
    check "khib.conf names the target" grep -qx 'target=/dev/vda3' /etc/khib.conf
fi
info "image-place $IMG_DEV${IMG_OFF:+ $IMG_OFF}"
krel=$(uname -r)
if command -v dracut > /dev/null; then
    check "dracut rebuilds the initramfs" quiet dracut -f "/boot/initrd.img-$krel" "$krel"
    gen=dracut
else
    check "update-initramfs -u rebuilds the initramfs" quiet update-initramfs -u
    gen=initramfs-tools
fi
check "the $gen build hook recorded its build for target=$TARGET${IMG_OFF:+ at byte $IMG_OFF of $IMG_DEV}" \
    sh -c "grep -qx 'target=$TARGET' '/var/lib/khib/initramfs/$krel' &&
        { [ -z '$IMG_OFF' ] || grep -qx 'target-offset=$IMG_OFF' '/var/lib/khib/initramfs/$krel'; }"
check "update-grub runs" quiet update-grub
check "update-grub wrote no khib entry: none is needed, the ordinary entry resumes" \
    sh -c "! grep -q 'khib-resume-' /boot/grub/grub.cfg"

khib check > "$S/check.log" 2>&1
rc=$?
check "khib check passes (exit $rc)" test "$rc" = 0
check "every khib check line is PASS, then 'ready to hibernate'" \
    sh -c "! grep -v '^PASS' '$S/check.log' | grep -vqx 'khib check: ready to hibernate'"
grep -v '^PASS' "$S/check.log" | sed 's/^/    /'
check "khib check: no boot entry needed, the ordinary one resumes ($gen)" \
    grep -q "^PASS.*boot entry: none needed: the ordinary boot entry resumes.*by $gen for target=$TARGET" "$S/check.log"
# An image file truncated or grown since khib setup-target: khib hibernate
# refuses before the jump, with nothing written; then the file is made
# whole again (a moved file, which needs a second copy of it on the disk:
# tests/qemu/file-target.sh).
# refused WHAT PATTERN: khib hibernate exits 3 naming PATTERN.
refused() {
    place=$(img --info 2>&1 | md5sum)
    khib hibernate > "$S/refused.log" 2>&1
    rc=$?
    check "an image file $1: khib hibernate refuses before the jump (exit $rc: $(grep -m 1 -E "$2" "$S/refused.log"))" \
        sh -c "[ $rc = 3 ] && grep -qE '$2' '$S/refused.log'"
    check "an image file $1: nothing written at the image's place" test "$(img --info 2>&1 | md5sum)" = "$place"
}
if [ -n "${FILE:-}" ]; then
    bytes=$(stat -c %s "$FILE")
    chattr -i "$FILE" && truncate -s $((bytes - 4194304)) "$FILE" && chattr +i "$FILE"
    refused "truncated by 4 MiB" "image file $FILE holds $((bytes - 4194304)) bytes, but khib setup-target made it $bytes"
    chattr -i "$FILE" && dd if=/dev/zero of="$FILE" bs=1M seek=$((bytes / 1048576 - 4)) count=4 conv=notrunc,fsync status=none &&
        truncate -s +4M "$FILE" && chattr +i "$FILE"
    # (ext4: a hole at the end; xfs: its preallocation past the old end,
    # unwritten, now inside the file.)
    refused "grown by 4 MiB" "image file $FILE cannot hold an image: "
    chattr -i "$FILE" && truncate -s "$bytes" "$FILE" && chattr +i "$FILE"
    khib check > "$S/check2.log" 2>&1
    rc=$?
    check "the file whole again (its tail rewritten): khib check passes (exit $rc)" test "$rc" = 0
fi
# The refusal scenario (REFUSE=1 in the control disk's settings): a
# committed image that cannot resume on this machine (khib-gencore's core,
# whose firmware memory map is not this one): the next boot's hook must
# refuse it, retire it, and boot on.
if [ -n "${REFUSE:-}" ]; then
    "$C/khib-gencore" --out "$S/refuse.core" --size 8M --seed 1 --note --window 192M > /dev/null &&
        /usr/lib/khib/khib-save --core "$S/refuse.core" --target /dev/vda3 --quiet > /dev/null 2>&1
    rm -f "$S/refuse.core"
    check "a committed image that cannot resume here is on the target" \
        sh -c "/usr/lib/khib/khib-restore --image /dev/vda3 --info | grep -q '^state: *COMMITTED'"
    echo refuse > "$S/expect"
fi
# The package says to reboot once: logind reads the environment khib's
# drop-in gives it only when it starts, and Debian never restarts logind
# (docs/systemd.md).
echo configured > "$S/phase"
info "rebooting"
sync
systemctl reboot
exit 0
