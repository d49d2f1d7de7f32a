#!/bin/sh
# init= of the provisioning boot (tests/qemu/distro/image.sh): finish the
# guest as an installer would, then power off.  Runs as PID 1 on the new
# root (/dev/vda2, read-write); devtmpfs is on /dev already
# (CONFIG_DEVTMPFS_MOUNT).  On any error the script exits, the kernel
# panics and QEMU stops (panic=-1, -no-reboot): image.sh shows the log.
set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C HOME=/root
say() { echo "khibtest-provision: $*"; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mkdir -p /run/lock
krel=$(cat /etc/khibtest/kernel-release)
say "kernel $krel"
depmod "$krel"
# grub-pc from apt's cache (no network), installed to the disk's MBR and
# its BIOS boot partition by its postinst.
echo "grub-pc grub-pc/install_devices multiselect /dev/vda" | debconf-set-selections
apt-get install -y -q --no-install-recommends --no-download grub-pc
grub-install /dev/vda
# The guest's own initramfs generator: initramfs-tools, or dracut in the
# bookworm-dracut variant (initrd.img-VERSION, the name GRUB's 10_linux finds).
if command -v dracut > /dev/null; then
    dracut -q -f "/boot/initrd.img-$krel" "$krel"
else
    update-initramfs -c -k "$krel"
fi
update-grub
grep -q "vmlinuz-$krel" /boot/grub/grub.cfg
sync
say provisioned
mount -o remount,ro /
echo o > /proc/sysrq-trigger
sleep 60
