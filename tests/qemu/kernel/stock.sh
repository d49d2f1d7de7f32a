#!/bin/sh
# Fetch (or find in the cache) Debian's own kernel, the one a user of this
# machine's release runs, and print the directory that holds it:
#   vmlinuz            the kernel
#   release            its release (uname -r)
#   overlay/           what a guest initramfs needs to run it: its config as
#                      /boot/config-RELEASE (khib check reads the options of a
#                      kernel without /proc/config.gz from there) and, under
#                      /test/modules/, the virtio modules its disks need, in
#                      load order (Debian builds them as modules)
#
# Debian's kernels are built without CONFIG_KEXEC_JUMP (design-notes fact 1):
# tests/qemu/faults.sh boots this one to check that khib refuses, naming the
# option, on the kernel a user really has, without building a second kernel.
#
# Usage: stock.sh      the package apt's linux-image-amd64 depends on now,
#                      cached under $KHIB_CACHE/kernels/stock-<package file>/
set -eu
cache=${KHIB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/khib}/kernels
log() { printf 'stock.sh: %s\n' "$*" >&2; }

newest() {
    apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}
package=$(newest)
if [ -z "$package" ] && [ "$(id -u)" = 0 ]; then
    apt-get -q update >&2
    package=$(newest)
fi
[ -n "$package" ] || { log "apt knows no linux-image-amd64 (run apt-get update as root)"; exit 1; }
version=$(apt-cache policy "$package" | awk '$1 == "Candidate:" { print $2 }')
out="$cache/stock-$package-$version"
if [ -f "$out/vmlinuz" ]; then
    echo "$out"
    exit 0
fi

# Modules virtio_blk needs on a PCI machine, dependencies first (each
# module's depends= in its .modinfo section: virtio_blk on virtio and
# virtio_ring, virtio_pci on those and on the two PCI transport libraries).
modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk"

work="$out.tmp"
rm -rf "$work"
mkdir -p "$work/deb" "$work/overlay/boot" "$work/overlay/test/modules"
log "fetching $package $version"
# apt-get download writes into the current directory; as root it warns that
# the _apt user cannot write there, harmlessly.
(cd "$work/deb" && apt-get -q download "$package=$version" >&2 2>/dev/null)
deb=$(find "$work/deb" -name "${package}_*.deb" | head -n 1)
[ -n "$deb" ] || { log "apt-get download left no $package .deb"; exit 1; }
dpkg-deb -x "$deb" "$work/x"
release=${package#linux-image-}
cp "$work/x/boot/vmlinuz-$release" "$work/vmlinuz"
cp "$work/x/boot/config-$release" "$work/overlay/boot/config-$release"
n=0
for m in $modules; do
    f=$(find "$work/x/lib/modules/$release" -name "$m.ko" | head -n 1)
    [ -n "$f" ] || { log "$package has no $m.ko"; exit 1; }
    n=$((n + 1))
    cp "$f" "$work/overlay/test/modules/$n-$m.ko"
done
echo "$release" > "$work/release"
rm -rf "$work/deb" "$work/x"
rm -rf "$out"
mv "$work" "$out"
echo "$out"
