#!/bin/sh
# Configure a debootstrapped tree as a test guest (run by image.sh):
#   guest-files.sh TREE DIR     DIR: tests/qemu/distro
# The root is /dev/vda2 (fstab); GRUB talks on the serial console and boots
# at once (timeout 0: a one-shot next entry is still honoured, 00_header);
# timers that would start work at random moments (apt, e2scrub, fstrim,
# man-db) are masked; khibtest.service runs the test driver that distro.sh
# puts on the control disk.  Nothing of khib is installed here.
set -eu
tree=${1:?usage: guest-files.sh TREE DIR}
dir=${2:?usage: guest-files.sh TREE DIR}

echo "/dev/vda2 / ext4 errors=remount-ro 0 1" > "$tree/etc/fstab"
echo khibtest > "$tree/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 khibtest\n' > "$tree/etc/hosts"
# kexec-tools must not take over reboots (its debconf question, asked
# nowhere in a debootstrap).
echo 'LOAD_KEXEC=false' > "$tree/etc/default/kexec"
mkdir -p "$tree/etc/default/grub.d"
cat > "$tree/etc/default/grub.d/khibtest.cfg" <<'CFG'
GRUB_TIMEOUT=0
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_CMDLINE_LINUX="console=ttyS0 panic=-1"
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_DISABLE_OS_PROBER=true
CFG
for t in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
    man-db.timer; do
    ln -sf /dev/null "$tree/etc/systemd/system/$t"
done
mkdir -p "$tree/etc/khibtest" "$tree/usr/local/sbin" "$tree/etc/systemd/system/multi-user.target.wants"
install -m 644 "$dir/units/khibtest.service" "$tree/etc/systemd/system/khibtest.service"
ln -sf /etc/systemd/system/khibtest.service "$tree/etc/systemd/system/multi-user.target.wants/khibtest.service"
cat > "$tree/usr/local/sbin/khibtest-control" <<'SH'
#!/bin/sh
# Unpack the control disk (a tar archive on /dev/vdb) and run its driver.
# Not in /run: Debian's initramfs mounts it noexec (initramfs-tools' init).
set -eu
rm -rf /var/lib/khibtest/ctl
mkdir -p /var/lib/khibtest/ctl
tar -xf /dev/vdb -C /var/lib/khibtest/ctl
exec /var/lib/khibtest/ctl/run.sh
SH
chmod 755 "$tree/usr/local/sbin/khibtest-control"
