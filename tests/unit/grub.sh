#!/bin/sh
# Host tests of grub/45_khib, khib's /etc/grub.d script: run against a fake
# /boot (kernels with and without CONFIG_KEXEC_JUMP, a file dpkg left
# behind), a khib.conf and stub grub-probe and grub-mkrelpath, with GRUB's
# own grub-mkconfig_lib (grub-common) when it is installed, else a
# stand-in; checks the entries' titles, ids, command lines (`khib
# boot-args` words and the console), initrd, GRUB's device preparation,
# /boot on a partition of its own or not, '$' kept literal, GRUB script
# syntax (grub-script-check), and the cases where it must write nothing and
# still succeed.  KHIB_TEST_GRUB_LIB names another grub-mkconfig_lib's
# directory (Debian 13's 2.12, unpacked from its grub-common, passes too).
# Prints "N passed, N failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
script=$root/grub/45_khib
# shellcheck source=tests/lib/check.sh
. "$root/tests/lib/check.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/khib-grub.XXXXXX")
trap 'rm -rf "$work"' EXIT

boot=$work/boot
mkdir -p "$boot" "$work/bin" "$work/lib"
: > "$boot/vmlinuz-6.12.7-khib"
printf 'CONFIG_KEXEC=y\nCONFIG_KEXEC_JUMP=y\n' > "$boot/config-6.12.7-khib"
: > "$boot/vmlinuz-6.1.0-18-amd64"
printf 'CONFIG_KEXEC=y\n# CONFIG_KEXEC_JUMP is not set\n' > "$boot/config-6.1.0-18-amd64"
: > "$boot/vmlinuz-7.2.13-khib.dpkg-tmp"
printf 'CONFIG_KEXEC_JUMP=y\n' > "$boot/config-7.2.13-khib.dpkg-tmp"
echo initramfs > "$boot/khib-initrd.img"
printf 'target=/dev/disk/by-partlabel/khib\nwindow=256M\n' > "$work/khib.conf"

# grub-probe --device DEV --target=T: answers for an ext2 /boot on msdos.
cat > "$work/bin/grub-probe" <<'EOF'
#!/bin/sh
for a; do case "$a" in --target=*) t=${a#--target=} ;; esac; done
case "$t" in
    partmap) echo msdos ;;
    abstraction) ;;
    fs) echo ext2 ;;
    compatibility_hint) echo 'hd0,msdos2' ;;
    fs_uuid) echo 0b1c2d3e-uuid ;;
    hints_string) echo '--hint-bios=hd0,msdos2' ;;
    *) exit 1 ;;
esac
EOF
# grub-mkrelpath DIR: /boot on its own partition is "/" ($RELPATH).
cat > "$work/bin/grub-mkrelpath" <<'EOF'
#!/bin/sh
echo "${RELPATH:-/}"
EOF
chmod 755 "$work/bin/"*
lib=${KHIB_TEST_GRUB_LIB:-/usr/share/grub}   # another grub-mkconfig_lib: e.g. 2.12 unpacked from grub-common
if [ ! -r "$lib/grub-mkconfig_lib" ]; then
    echo "note: grub-common is not installed: a stand-in for grub-mkconfig_lib is used (apt-get install grub-common)"
    lib=$work/lib
    cat > "$lib/grub-mkconfig_lib" <<'EOF'
grub_file_is_not_garbage() { test -f "$1" && case "$1" in *.dpkg-*) return 1 ;; esac; }
make_system_path_relative_to_its_root() { "$grub_mkrelpath" "$1"; }
prepare_grub_to_access_device() {
    echo "insmod part_$("$grub_probe" --device "$1" --target=partmap)"
    echo "insmod $("$grub_probe" --device "$1" --target=fs)"
    echo "search --no-floppy --fs-uuid --set=root $("$grub_probe" --device "$1" --target=fs_uuid)"
}
grub_add_tab() { sed -e "s/^/	/"; }
grub_quote() { sed "s/'/'\\\\''/g"; }
gettext_printf() { fmt=$1; shift; printf "$fmt" "$@"; }
EOF
fi

gen() {   # gen [VAR=VALUE...]: run 45_khib as grub-mkconfig does; sets rc, out, err
    env pkgdatadir="$lib" grub_probe="$work/bin/grub-probe" grub_mkrelpath="$work/bin/grub-mkrelpath" \
        GRUB_DEVICE_BOOT=/dev/vda2 GRUB_CMDLINE_LINUX="console=ttyS0,115200 quiet" \
        GRUB_CMDLINE_LINUX_DEFAULT="loglevel=4 splash" \
        KHIB_GRUB_KHIB="$root/build/khib" KHIB_GRUB_BOOT="$boot" KHIB_GRUB_CONF="$work/khib.conf" \
        KHIB_GRUB_STAMPS="$work/stamps" \
        "$@" sh "$script" > "$work/out" 2> "$work/err" && rc=0 || rc=$?
    out=$(cat "$work/out")
    err=$(cat "$work/err")
}
has() { printf '%s\n' "$out" | grep -qxF -- "$1"; }
err_has() { printf '%s\n' "$err" | grep -qF -- "$1"; }

gen
check "45_khib succeeds ($rc: $err)" [ "$rc" = 0 ]
check "an entry for the kexec-jump kernel, with its stable id" \
    has "menuentry 'khib: resume (Linux 6.12.7-khib)' --class khib --class os \$menuentry_id_option 'khib-resume-6.12.7-khib' {"
check "one entry only" [ "$(printf '%s\n' "$out" | grep -c '^menuentry')" = 1 ]
check "no entry for a kernel without CONFIG_KEXEC_JUMP" sh -c "! printf '%s' \"\$1\" | grep -q 6.1.0-18" - "$out"
check "the kernel without KEXEC_JUMP is named on stderr" err_has "no restore entry for Linux 6.1.0-18-amd64: $boot/config-6.1.0-18-amd64 does not have CONFIG_KEXEC_JUMP=y"
check "dpkg's leftovers are no kernel" sh -c "! printf '%s' \"\$1\" | grep -q 7.2.13" - "$out"
words=$("$root/build/khib" boot-args --config "$work/khib.conf")
check "khib boot-args: the window of khib.conf and the target" [ "$words" = \
    "nokaslr memmap=exactmap memmap=640K@0 memmap=255M@1M khib.role=restore khib.image=/dev/disk/by-partlabel/khib khib.normal=reboot" ]
check "the linux line: the kernel on /boot's partition, boot-args, the console words" \
    has "	linux	/vmlinuz-6.12.7-khib $words console=ttyS0,115200 loglevel=4"
check "the initrd: khib's copy in /boot" has "	initrd	/khib-initrd.img"
check "GRUB finds /boot's file system by UUID (prepare_grub_to_access_device)" \
    sh -c "printf '%s\n' \"\$1\" | grep -q 'search --no-floppy --fs-uuid --set=root.* 0b1c2d3e-uuid'" - "$out"
check "the partition map and file system modules" sh -c "printf '%s\n' \"\$1\" | grep -qx '	insmod part_msdos' &&
    printf '%s\n' \"\$1\" | grep -qx '	insmod ext2'" - "$out"
check "the entry is closed" has "}"
check "update-grub is told what was found" err_has "Found khib restore entry: $boot/vmlinuz-6.12.7-khib"
if command -v grub-script-check > /dev/null 2>&1; then
    if msg=$(printf '%s\n' "$out" | grub-script-check 2>&1); then ok; else bad "grub-script-check: $msg"; fi
fi

# /boot in the root file system: paths relative to the root.
gen RELPATH=/boot
check "/boot in the root: /boot/vmlinuz-..." has "	linux	/boot/vmlinuz-6.12.7-khib $words console=ttyS0,115200 loglevel=4"
check "/boot in the root: /boot/khib-initrd.img" has "	initrd	/boot/khib-initrd.img"

# grub-mkrelpath failing: no entry, and update-grub goes on.
gen grub_mkrelpath=/bin/false
check "grub-mkrelpath failing: exit 0, no entry" sh -c "[ '$rc' = 0 ] && ! printf '%s' \"\$1\" | grep -q menuentry" - "$out"
check "grub-mkrelpath failing: says so" err_has "grub-mkrelpath cannot place"

# '$' stays literal for GRUB.
printf 'target=/dev/vdb\nrestore-append=khib.wait=10 x=$y\n' > "$work/khib2.conf"
gen KHIB_GRUB_CONF="$work/khib2.conf"
check "restore-append= reaches the entry, '\$' escaped" \
    has "	linux	/vmlinuz-6.12.7-khib nokaslr memmap=exactmap memmap=640K@0 memmap=191M@1M khib.role=restore khib.image=/dev/vdb khib.normal=reboot khib.wait=10 x=\\\$y console=ttyS0,115200 loglevel=4"

# Nothing to write, and update-grub still succeeds.
printf '# nothing set\n' > "$work/empty.conf"
gen KHIB_GRUB_CONF="$work/empty.conf"
check "no target=: exit 0" [ "$rc" = 0 ]
check "no target=: no entry" [ -z "$out" ]
check "no target=: says why" err_has "khib: no restore entry: no target= in /etc/khib.conf"
printf 'window=12\n' > "$work/bad.conf"
gen KHIB_GRUB_CONF="$work/bad.conf"
check "a broken khib.conf: exit 0, no entry, the reason" sh -c "[ '$rc' = 0 ] && [ -z \"\$1\" ]" - "$out"
check "a broken khib.conf: the reason" err_has "window: '12' is not a size"
mv "$boot/khib-initrd.img" "$work/initrd.away"
gen
check "no /boot/khib-initrd.img: exit 0, no entry" sh -c "[ '$rc' = 0 ] && [ -z \"\$1\" ]" - "$out"
check "no /boot/khib-initrd.img: says so" err_has "khib-initrd.img is missing"
mv "$work/initrd.away" "$boot/khib-initrd.img"
gen KHIB_GRUB_KHIB=/nonexistent/khib
check "khib removed (the conffile kept): exit 0, silent" sh -c "[ '$rc' = 0 ] && [ -z \"\$1\" ] && [ -z \"\$2\" ]" - "$out" "$err"
rm "$boot/config-6.12.7-khib"
gen
check "no kexec-jump kernel: exit 0, no entry" sh -c "[ '$rc' = 0 ] && [ -z \"\$1\" ]" - "$out"
check "no kexec-jump kernel: says so" err_has "no kernel in $boot has CONFIG_KEXEC_JUMP=y"

if command -v shellcheck > /dev/null 2>&1; then
    for f in "$script" "$0"; do
        if msg=$(shellcheck -S warning "$f" 2>&1); then ok; else bad "shellcheck $f: $msg"; fi
    done
fi
# No entry where none is needed: the ordinary entry resumes.
printf 'CONFIG_KEXEC=y\nCONFIG_KEXEC_JUMP=y\n' > "$boot/config-6.12.7-khib"
mkdir -p "$work/stamps"
printf 'generator=initramfs-tools\ntarget=/dev/disk/by-partlabel/khib\n' > "$work/stamps/6.12.7-khib"
gen
check "boot=auto, the initramfs of 6.12.7-khib has khib's hook: no entry, says why, exit 0" \
    sh -c "[ $rc = 0 ] && ! printf '%s' \"\$1\" | grep -q menuentry" - "$out"
check "boot=auto with the hook: the reason on stderr" err_has "no restore entry for Linux 6.12.7-khib: none needed, its ordinary entry resumes"
rm "$work/stamps/6.12.7-khib"
for mode in initramfs none; do
    printf 'target=/dev/disk/by-partlabel/khib\nboot=%s\n' "$mode" > "$work/mode.conf"
    gen KHIB_GRUB_CONF="$work/mode.conf"
    check "boot=$mode: no entry, exit 0" sh -c "[ $rc = 0 ] && [ -z \"\$1\" ]" - "$out"
    check "boot=$mode: says why" err_has "no restore entry: boot=$mode in $work/mode.conf"
done
printf 'target=/dev/disk/by-partlabel/khib\nboot=grub\n' > "$work/mode.conf"
printf 'generator=initramfs-tools\ntarget=/dev/disk/by-partlabel/khib\n' > "$work/stamps/6.12.7-khib"
gen KHIB_GRUB_CONF="$work/mode.conf"
check "boot=grub: the entry, even with the initramfs hook" has "menuentry 'khib: resume (Linux 6.12.7-khib)' --class khib --class os \$menuentry_id_option 'khib-resume-6.12.7-khib' {"

counts
