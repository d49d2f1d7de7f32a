#!/bin/sh
# Install the Debian packages khib's build, tests, demo and benchmarks need.
# Runs as root on Debian 12; idempotent.
set -eu
packages="build-essential libzstd-dev libsodium-dev zstd kexec-tools busybox-static klibc-utils
qemu-system-x86 qemu-system-data seabios ipxe-qemu qemu-utils
cpio gzip xz-utils e2fsprogs dmsetup util-linux coreutils xfsprogs btrfs-progs dosfstools
flex bison bc libelf-dev libssl-dev dpkg-dev debian-archive-keyring
makedumpfile shellcheck perl clang libclang-rt-14-dev
debhelper lintian fakeroot debootstrap man-db groff-base file
mtools fdisk sqlite3 grub-common grub-pc-bin grub-efi-amd64-bin xorriso ovmf"
missing=
for p in $packages; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing packages:$missing (run as root, or apt-get install them)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing
fi
