#!/bin/sh
# Build the initramfs of the transient kernel B and the restore kernel R:
# /init from initramfs/, the static khib-save and khib-restore (the front end
# khib runs only in the system being hibernated), and busybox-static.
#
# Usage: mkinitramfs.sh [-b BUILDDIR] [-o OUTPUT] [-a DIR]...
#   -b BUILDDIR   where khib-save and khib-restore were built (default: build)
#   -o OUTPUT     the gzip-compressed cpio archive to write (default: BUILDDIR/khib-initrd.img)
#   -a DIR        add DIR's contents on top (repeatable), e.g. a normal-boot hook
#
# The output is reproducible: entries are sorted, owned by root and stamped
# with a fixed time, and gzip stores no name or time.
set -eu
usage() { sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//'; }
build=build
out=
extra=
while getopts b:o:a:h opt; do
    case "$opt" in
        b) build=$OPTARG ;;
        o) out=$OPTARG ;;
        a) extra="$extra $OPTARG" ;;
        h) usage; exit 0 ;;
        *) usage >&2; exit 1 ;;
    esac
done
[ -n "$out" ] || out="$build/khib-initrd.img"
here=$(cd "$(dirname "$0")" && pwd)
busybox=$(command -v busybox || true)
for f in "$build/khib-save" "$build/khib-restore"; do
    [ -x "$f" ] || { echo "mkinitramfs.sh: $f is missing: run 'make' first" >&2; exit 1; }
done
[ -n "$busybox" ] || { echo "mkinitramfs.sh: busybox not found: apt-get install busybox-static" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
    echo "mkinitramfs.sh: $busybox is not static: apt-get install busybox-static" >&2
    exit 1
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/run" "$root/tmp" "$root/etc/khib"
cp "$here/initramfs/init" "$root/init"
chmod 755 "$root/init"
# /init's shell library: hooks/ in the source tree, beside mkinitramfs installed.
mkdir -p "$root/usr/lib/khib"
for f in "$here/hooks/khib-lib.sh" "$here/khib-lib.sh"; do
    [ -f "$f" ] && { cp "$f" "$root/usr/lib/khib/khib-lib.sh"; break; }
done
[ -f "$root/usr/lib/khib/khib-lib.sh" ] || { echo "mkinitramfs.sh: khib-lib.sh is missing beside $0" >&2; exit 1; }
cp "$busybox" "$root/bin/busybox"
for f in khib-save khib-restore; do cp "$build/$f" "$root/bin/$f"; done
for applet in $("$busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
for d in $extra; do
    [ -d "$d" ] || { echo "mkinitramfs.sh: -a $d: not a directory" >&2; exit 1; }
    cp -a "$d/." "$root/"
done
mkdir -p "$(dirname "$out")"
(
    cd "$root"
    find . -mindepth 1 -exec touch -h -d @0 {} +
    find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible
) | gzip -n -6 > "$out.tmp"
mv "$out.tmp" "$out"
echo "mkinitramfs.sh: $out: $(wc -c < "$out") bytes"
