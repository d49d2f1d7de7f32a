#!/bin/sh
# Build (or find in the cache) the disk image of a Debian guest for
# tests/qemu/distro.sh and print its path.
#
# Usage: image.sh RELEASE KERNEL     RELEASE: bookworm, trixie, or
#                                    bookworm-dracut (bookworm with dracut
#                                    instead of initramfs-tools);
#                                    KERNEL: the test kernel's bzImage
#        image.sh RELEASE --tree     only the debootstrap tree's tarball
#
# The disk (GPT, 4 GiB sparse) has three partitions:
#   1  bios      1 MiB   GRUB's core image (BIOS boot partition), or on a
#      esp      64 MiB   UEFI guest (trixie) the EFI system partition (FAT32,
#                        /boot/efi: GRUB as EFI/BOOT/BOOTX64.EFI)
#   2  root      2.5 GiB ext4: debootstrap --variant=minbase of RELEASE with
#                        systemd, udev, dbus, kexec-tools, sqlite3, procps,
#                        iproute2, initramfs-tools; GRUB (grub-pc, or
#                        grub-efi-amd64) installed and the test kernel in /boot
#   3  khib      rest    raw: khib's image target (/dev/vda3 in the guest);
#                        bookworm-dracut: an xfs mounted at /srv/khib,
#                        where its image file lives
# It is made without loop devices or mounts: sfdisk writes the table into the
# file, mkfs.vfat --offset the ESP into partition 1 and mke2fs -d -E offset=
# the root file system into partition 2.  One boot of the test kernel then
# finishes it inside the guest, as an installer would
# (tests/qemu/distro/provision.sh): GRUB from apt's cache, grub-install,
# update-initramfs, update-grub.  khib itself is not in the image: distro.sh
# installs its .deb in every run.  Which firmware boots a guest, bios
# (SeaBIOS) or uefi (OVMF): firmware.sh.
#
# Two cache levels under $KHIB_CACHE/distro/ (default ~/.cache/khib):
#   RELEASE-tree-KEY.tar.zst  the debootstrap tree with the .debs of what the
#                             provisioning and khib's package install (grub-pc
#                             or grub-efi-amd64 and dosfstools, busybox-static,
#                             cpio) in apt's cache, so that no
#                             guest needs the network; KEY: release, mirror,
#                             packages, debootstrap's version, guest-files.
#   RELEASE-disk-KEY.img      the provisioned disk; KEY: the tree's key, the
#                             kernel, provision.sh, firmware.sh and this script.
# A variant (bookworm-dracut) has a tree of its own: its base release's tree
# with the variant's packages installed in a chroot (apt-get, from the
# network; dracut replaces initramfs-tools), keyed by the base tree's key
# and the packages.
# Needs root (debootstrap, files owned by root in the image).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
release=${1:?usage: image.sh RELEASE KERNEL}
kernel=${2:?usage: image.sh RELEASE KERNEL}
cache=${KHIB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/khib}/distro
variant='' variant_conf='' srv_xfs=''
# shellcheck source-path=SCRIPTDIR source=firmware.sh
. "$here/firmware.sh"
firmware=$(firmware "$release")
case "$release" in
    bookworm|trixie) base=$release ;;
    # dracut builds for this machine only (hostonly, as Fedora's default):
    # the generic image took minutes per build under TCG.
    # Its image file (tests/qemu/distro.sh) lives on an xfs: partition 3.
    bookworm-dracut) base=bookworm variant="dracut dracut-core" variant_conf='hostonly="yes"' srv_xfs=1 ;;
    *) echo "image.sh: unknown release $release (bookworm, trixie or bookworm-dracut)" >&2; exit 1 ;;
esac
[ "$(id -u)" = 0 ] || { echo "image.sh: needs root (debootstrap)" >&2; exit 1; }
# shellcheck source-path=SCRIPTDIR source=../lib/mirror.sh
. "$here/../lib/mirror.sh"
mirror=$(mirror_uri) || { echo "image.sh: no Debian archive in /etc/apt sources" >&2; exit 1; }

include=systemd-sysv,udev,dbus,kexec-tools,e2fsprogs,sqlite3,procps,iproute2,initramfs-tools,kmod
# The bootloader: grub-pc, or on a UEFI guest grub-efi-amd64 (no shim: no
# Secure Boot) and dosfstools (fsck.vfat for the ESP, as an installer has it).
case "$firmware" in
    uefi) later="grub-efi-amd64 dosfstools busybox-static cpio" ;;
    *) later="grub-pc busybox-static cpio" ;;
esac
log() { printf 'image.sh: %s\n' "$*" >&2; }
mkdir -p "$cache"

tree_key=$(cat "$here/guest-files.sh" "$here"/units/khibtest.service | sha256sum |
    { read -r h _; printf '%s\n' 3 "$base" "$mirror" "$include" "$later" "$h" \
        "$(dpkg-query -W -f='${Version}' debootstrap)"; } | sha256sum | cut -c1-16)
if [ -n "$variant" ]; then
    base_tar=$cache/$base-tree-$tree_key.tar.zst
    tree_key=$(printf '%s\n' "$tree_key" "$variant" "$variant_conf" | sha256sum | cut -c1-16)
fi
tree_tar=$cache/$release-tree-$tree_key.tar.zst
kernel_dir=$(dirname -- "$kernel")
if [ "$kernel" != --tree ]; then
    disk_key=$(cat "$kernel" "$here/provision.sh" "$here/firmware.sh" "$0" | sha256sum |
        { read -r h _; printf '%s %s\n' "$tree_key" "$h"; } | sha256sum | cut -c1-16)
    disk=$cache/$release-disk-$disk_key.img
    [ -f "$disk" ] && { echo "$disk"; exit 0; }
elif [ -s "$tree_tar" ]; then
    echo "$tree_tar"
    exit 0
fi

work=$(mktemp -d /var/tmp/khib-distro-image.XXXXXX)
tree=$work/root
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    umount "$tree/proc" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_chroot() {
    chroot "$tree" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"
}

# in_tree_apt WHAT COMMAND: run an apt-get command line in the tree (proc
# mounted), or show its log and exit.
in_tree_apt() {
    mount -t proc proc "$tree/proc"
    if ! in_chroot sh -c "apt-get update -q && $2" > "$work/apt.log" 2>&1; then
        tail -n 20 "$work/apt.log" >&2
        log "$1 failed (log above)"
        exit 1
    fi
    umount "$tree/proc"
}

# pack_tree: the tree into its cache tarball.
pack_tree() {
    tar --zstd -C "$tree" --numeric-owner -cf "$tree_tar.tmp" . && mv "$tree_tar.tmp" "$tree_tar"
    rm -rf "$tree"
    log "tree of $release built in $(( $(date +%s) - start )) s"
}

if [ -n "$variant" ] && [ ! -s "$tree_tar" ]; then
    start=$(date +%s)
    [ -s "$base_tar" ] || sh "$0" "$base" --tree > /dev/null || exit 1
    log "$release: $base's tree with $variant (cached as $tree_tar)"
    mkdir -p "$tree"
    tar --zstd -C "$tree" --numeric-owner -xpf "$base_tar"
    in_tree_apt "installing $variant into $base's tree" "apt-get install -y -q --no-install-recommends $variant"
    mkdir -p "$tree/etc/dracut.conf.d"
    printf '%s\n' "$variant_conf" > "$tree/etc/dracut.conf.d/khibtest.conf"
    pack_tree
fi
if [ ! -s "$tree_tar" ]; then
    start=$(date +%s)
    log "debootstrap $release (cached as $tree_tar)"
    if ! debootstrap --variant=minbase --include="$include" "$release" "$tree" "$mirror" \
        > "$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        log "debootstrap of $release failed (log above)"
        exit 1
    fi
    # The .debs the guest installs later stay in apt's cache: the guest has
    # no network.
    in_tree_apt "downloading $later" "apt-get install -y -q --no-install-recommends --download-only $later"
    sh "$here/guest-files.sh" "$tree" "$here"
    pack_tree
fi

[ "$kernel" = --tree ] && { echo "$tree_tar"; exit 0; }
krel=$(cat "$kernel_dir/release")
start=$(date +%s)
mkdir -p "$tree"
tar --zstd -C "$tree" --numeric-owner -xpf "$tree_tar"
# The test kernel, installed the way a kernel package installs one: the
# image, its config (khib check and the GRUB script read CONFIG_KEXEC_JUMP
# there) and a module tree, empty since the kernel has no modules (depmod
# fills in its index at the provisioning boot).
cp "$kernel" "$tree/boot/vmlinuz-$krel"
cp "$kernel_dir/.config" "$tree/boot/config-$krel"
mkdir -p "$tree/lib/modules/$krel"
cp "$here/provision.sh" "$tree/usr/local/sbin/khibtest-provision"
chmod 755 "$tree/usr/local/sbin/khibtest-provision"
echo "$krel" > "$tree/etc/khibtest/kernel-release"
echo "$firmware" > "$tree/etc/khibtest/firmware"
if [ "$firmware" = uefi ]; then
    # The ESP at /boot/efi, as Debian's installer mounts it.
    mkdir -p "$tree/boot/efi"
    echo "/dev/vda1 /boot/efi vfat umask=0077 0 1" >> "$tree/etc/fstab"
fi
if [ -n "$srv_xfs" ]; then
    mkdir -p "$tree/srv/khib"
    echo "/dev/vda3 /srv/khib xfs defaults 0 0" >> "$tree/etc/fstab"
fi
# Under TCG on a loaded host the kernel's check of the IO-APIC timer can
# fail ("Kernel panic - not syncing: IO-APIC + timer doesn't work", seen at
# a guest's first boot): the guests' entries skip it (after khibtest.cfg).
echo 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX no_timer_check"' > "$tree/etc/default/grub.d/zz-khibtest-timer.cfg"

# GPT in 512-byte sectors: partition 1 from 2048 (bios: 2048 sectors; esp:
# 64 MiB), root after it (2.5 GiB), khib the rest: the partition numbers are
# the same on both kinds of guest.
case "$firmware" in
    uefi) p1_sectors=$((64 * 2048)) p1="type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp" ;;
    *) p1_sectors=2048 p1="type=21686148-6449-6E6F-744E-656564454649, name=bios" ;;
esac
root_start=$((2048 + p1_sectors))
root_sectors=$((2560 * 2048))
img=$work/disk.img
truncate -s 4G "$img"
sfdisk -q "$img" <<EOF
label: gpt
start=2048, size=$p1_sectors, $p1
start=$root_start, size=$root_sectors, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root
start=$((root_start + root_sectors)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=khib
EOF
if [ "$firmware" = uefi ]; then
    # FAT32 with one sector per cluster (64 MiB has enough clusters for it).
    mkfs.vfat -F 32 -s 1 -n ESP --offset 2048 "$img" $((p1_sectors / 2)) > /dev/null
fi
mke2fs -q -F -t ext4 -L root -d "$tree" -E offset=$((root_start * 512)) "$img" $((root_sectors / 2))k
if [ -n "$srv_xfs" ]; then
    # Partition 3 as xfs (no loop device: made in a file, copied in sparse).
    part=$(sfdisk -d "$img" | awk -F'[=,]' '/name="khib"/ { gsub(/ /, ""); print $2, $4 }')
    # shellcheck disable=SC2086 # start and size
    set -- $part
    truncate -s $(($2 * 512)) "$work/srv.xfs"
    mkfs.xfs -q -f -L srv "$work/srv.xfs"
    dd if="$work/srv.xfs" of="$img" bs=512 seek="$1" conv=notrunc,sparse status=none
    rm -f "$work/srv.xfs"
fi
rm -rf "$tree"

# The provisioning boot: the test kernel with the new root as its root and
# provision.sh as init; it powers off when done and says "provisioned".
# no_timer_check as in the guests' entries (above): the IO-APIC timer check
# failed a provisioning boot too under load.
plog=$work/provision.log
if ! timeout --foreground 900 qemu-system-x86_64 -machine pc -accel tcg -m 1G -smp 2 \
    -display none -no-reboot -monitor none -serial stdio \
    -kernel "$kernel" -append "console=ttyS0 panic=-1 no_timer_check root=/dev/vda2 rw init=/usr/local/sbin/khibtest-provision" \
    -drive "file=$img,format=raw,if=virtio" < /dev/null > "$plog" 2>&1 ||
    ! grep -q "^khibtest-provision: provisioned" "$plog"; then
    tr -d '\r' < "$plog" | tail -n 40 >&2
    log "the provisioning boot of $release failed (serial log above)"
    exit 1
fi
mv "$img" "$disk"
# Older disks and trees of this release (other keys) are of no more use.
for f in "$cache/$release"-disk-*.img "$cache/$release"-tree-*.tar.zst; do
    [ "$f" = "$disk" ] || [ "$f" = "$tree_tar" ] || rm -f "$f"
done
log "disk of $release provisioned in $(( $(date +%s) - start )) s"
echo "$disk"
