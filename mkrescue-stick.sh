#!/bin/sh
# Write khib's rescue stick: a bootable image for BIOS and UEFI (grub-mkrescue:
# GRUB for i386-pc and x86_64-efi on one hybrid ISO 9660 image) holding a
# kernel, khib's restore initramfs and a menu with two entries: resume the
# hibernated system on this machine (khib.role=rescue: the image is found on
# any disk by its superblock), and boot the installed system (the GRUB
# configuration of another disk).  docs/rescue-stick.md.
#
# Usage: khib rescue-stick [OPTIONS] DEV|FILE   (installed)
#        mkrescue-stick.sh [OPTIONS] DEV|FILE   (source tree; make rescue-stick)
#   DEV                a whole USB disk (/dev/sdX): everything on it is replaced
#   FILE               an image file, to copy onto a stick later (dd, cp)
#   --kernel FILE      the kernel (default /boot/vmlinuz-$(uname -r)): built with
#                      kexec jump and the drivers of the machine's disks built in
#   --initrd FILE      khib's initramfs (default /usr/lib/khib/khib-initrd.img, or
#                      build/khib-initrd.img beside this script)
#   --window SIZE      the restore kernel's window (default window= of
#                      /etc/khib.conf, else 192M): the one khib hibernate used
#   --console TTY      tty0 (default: the screen; messages also go to ttyS0) or
#                      ttyS0 (the serial port: prompts and answers there)
#   --timeout SECONDS  the menu's wait before it resumes (default 10)
#   --append WORDS     more words for the resume entry's command line, e.g.
#                      khib.wait=10 or khib.image=PARTLABEL=khib
#   --config FILE      read window= from FILE instead of /etc/khib.conf
#   --yes              write to DEV without asking
#   --help             this text
set -eu
prog=${KHIB_PROG:-mkrescue-stick.sh}
usage() { sed -n '9,27p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "$prog: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)

kernel=/boot/vmlinuz-$(uname -r)
initrd=
window=
console=tty0
timeout=10
append=
config=/etc/khib.conf
yes=0
out=
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel|--initrd|--window|--console|--timeout|--append|--config)
            [ $# -ge 2 ] || die "$1 needs a value (see --help)"
            opt=${1#--} val=$2
            shift 2 ;;
        --*=*) opt=${1%%=*} opt=${opt#--} val=${1#*=}; shift ;;
        --yes) yes=1; shift; continue ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) [ -z "$out" ] || die "one DEV or FILE only (see --help)"; out=$1; shift; continue ;;
    esac
    case "$opt" in
        kernel) kernel=$val ;;
        initrd) initrd=$val ;;
        window) window=$val ;;
        console) console=$val ;;
        timeout) timeout=$val ;;
        append) append=$val ;;
        config) config=$val ;;
        *) die "unknown option --$opt (see --help)" ;;
    esac
done
[ -n "$out" ] || { usage >&2; exit 1; }

if [ -z "$initrd" ]; then
    for f in "$here/build/khib-initrd.img" /usr/lib/khib/khib-initrd.img; do
        [ -f "$f" ] && { initrd=$f; break; }
    done
    [ -n "$initrd" ] || die "no khib initramfs: make initramfs (source tree), or reinstall khib (/usr/lib/khib/khib-initrd.img)"
fi
[ -f "$kernel" ] || die "kernel $kernel not found: name one with --kernel"
[ -f "$initrd" ] || die "initramfs $initrd not found"
if [ -z "$window" ] && [ -r "$config" ]; then
    window=$(sed -n 's/^[[:space:]]*window[[:space:]]*=[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$config" | tail -n 1)
fi
window=${window:-192M}
# The same confinement as khib hibernate's (frontend/bootargs.c window_words).
case "$window" in
    *[Mm]) mib=${window%?} ;;
    *[Gg]) mib=$((${window%?} * 1024)) ;;
    *) mib= ;;
esac
case "$mib" in ''|*[!0-9]*) die "window '$window' is not a size in whole MiB or GiB (e.g. 192M)" ;; esac
[ "$mib" -ge 64 ] || die "window '$window' is below 64M"
case "$console" in
    tty0) console_words="console=ttyS0,115200 console=tty0" ;;
    ttyS0) console_words="console=tty0 console=ttyS0,115200" ;;
    *) die "--console: tty0 or ttyS0, not '$console'" ;;
esac
case "$timeout" in ''|*[!0-9]*) die "--timeout: a number of seconds, not '$timeout'" ;; esac
for d in i386-pc x86_64-efi; do
    [ -d "/usr/lib/grub/$d" ] || die "/usr/lib/grub/$d is missing: apt-get install grub-pc-bin grub-efi-amd64-bin"
done
for t in grub-mkrescue xorriso mformat; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found: apt-get install grub-common xorriso mtools"
done

if [ -b "$out" ]; then
    name=$(basename "$(readlink -f "$out")")
    [ ! -e "/sys/class/block/$name/partition" ] || die "$out is a partition: name the whole disk (the stick)"
    if awk '{ print $1 }' /proc/mounts | grep -q "^/dev/$name"; then
        die "$out (or a partition of it) is mounted: unmount it first"
    fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/iso
mkdir -p "$tree/boot/grub" "$tree/khib"
cp "$kernel" "$tree/khib/vmlinuz"
cp "$initrd" "$tree/khib/khib-initrd.img"
cat > "$tree/boot/grub/grub.cfg" <<EOF
# khib's rescue stick (docs/rescue-stick.md), written by $prog.
set default=0
set timeout=$timeout
set timeout_style=menu
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
regexp --set=1:stick '^([^,]*)' "\$root"

menuentry "Resume the hibernated system on this machine" --hotkey=r {
    echo "khib rescue stick: starting the restore kernel"
    linux /khib/vmlinuz $console_words nokaslr memmap=exactmap memmap=640K@0 memmap=$((mib - 1))M@1M khib.role=rescue${append:+ $append}
    initrd /khib/khib-initrd.img
}

# The first GRUB configuration on a disk other than the stick: the installed
# system's own menu, with its own kernels and command lines.
menuentry "Boot the installed system" --hotkey=b {
    insmod regexp
    for cfg in (*)/boot/grub/grub.cfg (*)/grub/grub.cfg (*)/boot/grub2/grub.cfg (*)/grub2/grub.cfg; do
        if [ -f "\$cfg" ]; then
            regexp --set=1:dev --set=2:path '^\\(([^)]*)\\)(/.*)\$' "\$cfg"
            regexp --set=1:disk '^([^,]*)' "\$dev"
            if [ "\$disk" != "\$stick" ]; then
                echo "khib rescue stick: the installed system's menu: (\$dev)\$path"
                set root="\$dev"
                configfile "\$path"
            fi
        fi
    done
    echo "khib rescue stick: no GRUB configuration (/boot/grub/grub.cfg) on a disk other than the stick"
    echo "remove the stick and restart: the machine then starts from its disk"
    sleep 30
}
EOF

tmp=$out.tmp
[ -b "$out" ] && tmp=$work/stick.img
if ! grub-mkrescue -o "$tmp" "$tree" -- -volid KHIB_RESCUE > "$work/mkrescue.log" 2>&1; then
    cat "$work/mkrescue.log" >&2
    rm -f "$tmp"
    die "grub-mkrescue failed (above)"
fi
size=$(wc -c < "$tmp")
if [ -b "$out" ]; then
    if [ "$yes" != 1 ]; then
        printf '%s: this replaces everything on %s (%s bytes): type yes to go on: ' "$prog" "$out" \
            "$(blockdev --getsize64 "$out" 2>/dev/null || echo '?')" >&2
        read -r answer || answer=
        [ "$answer" = yes ] || die "nothing written"
    fi
    dd if="$tmp" of="$out" bs=4M conv=fsync status=none
    sync
else
    mv "$tmp" "$out"
fi
echo "$prog: $out: rescue stick for BIOS and UEFI, $size bytes: kernel $kernel, window $window, console $console"
