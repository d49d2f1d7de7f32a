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
if [ "$(cat /etc/khibtest/firmware)" = uefi ]; then
    # grub-efi-amd64 from apt's cache (no network), installed on the ESP
    # (/boot/efi, fstab) at the removable media path EFI/BOOT/BOOTX64.EFI,
    # which the firmware boots when no boot entry names another: this kernel
    # was not started by EFI and has no efivarfs, so no NVRAM entry
    # (--no-nvram; grub2/update_nvram false keeps later runs of grub-install
    # by the package away from NVRAM too).  No shim: no Secure Boot.
    mount /boot/efi
    echo "grub-efi-amd64 grub2/update_nvram boolean false" | debconf-set-selections
    apt-get install -y -q --no-install-recommends --no-download grub-efi-amd64 dosfstools
    grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram
    test -s /boot/efi/EFI/BOOT/BOOTX64.EFI
else
    # grub-pc from apt's cache (no network), installed to the disk's MBR and
    # its BIOS boot partition by its postinst.
    echo "grub-pc grub-pc/install_devices multiselect /dev/vda" | debconf-set-selections
    apt-get install -y -q --no-install-recommends --no-download grub-pc
    grub-install /dev/vda
fi
# The guest's own initramfs generator: initramfs-tools, or dracut in the
# bookworm-dracut variant (initrd.img-VERSION, the name GRUB's 10_linux finds).
if command -v dracut > /dev/null; then
    dracut -q -f "/boot/initrd.img-$krel" "$krel"
else
    update-initramfs -c -k "$krel"
fi
update-grub
grep -q "vmlinuz-$krel" /boot/grub/grub.cfg
! mountpoint -q /boot/efi || umount /boot/efi
sync
say provisioned
mount -o remount,ro /
echo o > /proc/sysrq-trigger
sleep 60
