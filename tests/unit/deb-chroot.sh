#!/bin/sh
# The Debian package installed, triggered, removed and purged in a Debian 12
# chroot (the debootstrap tree of tests/qemu/distro/image.sh): apt resolves its
# Depends, postinst builds /usr/lib/khib/khib-initrd.img, khib runs, the
# busybox trigger and a reinstall rebuild the initramfs, khib-retire.service
# is enabled, remove takes the initramfs and /usr/lib/khib away and keeps
# /etc/khib.conf, and purge leaves the tree as it was (the file lists
# before and after are compared).  Needs root; the first run needs the
# network (the host's Debian mirror).
#
# With the apt lists and the dependencies' .debs in the tree, a cached run
# needs no network.  The package is
# build/khib_VERSION_ARCH.deb from `make deb` (run first), or $KHIB_DEB.
# Prints "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tests/lib/check.sh
. "$root/tests/lib/check.sh"
finish() {
    counts
    exit
}

if [ "$(id -u)" != 0 ] || ! command -v debootstrap >/dev/null 2>&1; then
    echo "note: not root, or no debootstrap (apt-get install debootstrap): the chroot test was skipped"
    finish
fi


cd "$root" || exit 1
if [ -n "${KHIB_DEB:-}" ]; then
    deb=$KHIB_DEB
else
    version=$(dpkg-parsechangelog -l debian/changelog -S Version)
    deb=build/khib_${version}_$(dpkg --print-architecture).deb
    if make deb > /dev/null 2>&1; then ok; else bad "make deb failed (run it to see why)"; fi
fi
[ -s "$deb" ] || { bad "no package $deb"; finish; }

work=$(mktemp -d /var/tmp/khib-deb-chroot.XXXXXX)
R=$work/root
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    umount "$R/proc" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

in_chroot() {
    chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@"
}

# The Debian 12 tree of tests/qemu/distro.sh's guest (built once, cached by
# its inputs): kexec-tools and cpio installed, busybox-static's .deb in
# apt's cache.
if ! tarball=$(sh "$root/tests/qemu/distro/image.sh" bookworm --tree 2> "$work/tree.log"); then
    bad "the Debian 12 tree could not be built:"
    tail -n 20 "$work/tree.log"
    finish
fi
mkdir -p "$R"
if tar --zstd -C "$R" --numeric-owner -xpf "$tarball"; then ok; else bad "cannot unpack $tarball"; finish; fi
mount -t proc proc "$R/proc" || { bad "cannot mount /proc in the chroot"; finish; }
# No service of a dependency (kexec-tools) starts in the chroot.
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"
chmod 755 "$R/usr/sbin/policy-rc.d"
cp "$deb" "$R/tmp/khib.deb"
# GRUB, as far as the maintainer scripts see it: a grub.cfg and an
# update-grub that logs its calls (a real one cannot probe a chroot's
# disk), in /usr/sbin: apt runs dpkg with its own PATH (DPkg::Path), which
# has no /usr/local.  Both are part of the tree before and after.
mkdir -p "$R/boot/grub"
: > "$R/boot/grub/grub.cfg"
printf '#!/bin/sh\necho "update-grub ran: $(ls /etc/grub.d/45_khib 2>/dev/null) $(test -x /usr/sbin/khib && echo khib)" >> /var/tmp/update-grub.log\n' \
    > "$R/usr/sbin/update-grub"
chmod 755 "$R/usr/sbin/update-grub"

# What purge must give back: every path outside the kernel's and apt's
# bookkeeping (apt's lists, its .deb cache and extended_states, which
# records that the dependencies were installed automatically; logs).
snapshot() {
    (cd "$R" && find . -xdev \( -path ./proc -o -path ./tmp -o -path ./var/cache/apt -o -path ./var/lib/apt \
        -o -path ./var/log -o -path ./var/tmp/update-grub.log \) -prune -o -print | LC_ALL=C sort)
}
snapshot > "$work/before"
packages() { chroot "$R" dpkg-query -W -f='${Package}\n' | LC_ALL=C sort; }
packages > "$work/packages.before"

log=$work/apt.log
apt() {   # apt ARGS...: apt-get in the chroot, its output in $log
    in_chroot apt-get -y -q --no-install-recommends "$@" > "$log" 2>&1
}
show() { sed 's/^/    /' "$log" | tail -n 20; }

if apt install /tmp/khib.deb; then ok; else bad "apt-get install ./khib.deb failed:"; show; fi
for p in khib busybox-static kexec-tools cpio; do
    check "$p is installed" sh -c "chroot '$R' dpkg-query -W -f='\${Status}' $p | grep -q 'install ok installed'"
done
check "postinst built the initramfs" test -s "$R/usr/lib/khib/khib-initrd.img"
check "postinst said so" grep -q 'mkinitramfs.sh: /usr/lib/khib/khib-initrd.img: [0-9]* bytes' "$log"
if zcat "$R/usr/lib/khib/khib-initrd.img" 2>/dev/null | cpio -t --quiet > "$work/initrd.list" 2>/dev/null; then
    ok
else
    bad "the initramfs is not a gzip'ed cpio archive"
fi
for f in init bin/busybox bin/sh bin/khib-save bin/khib-restore; do
    check "the initramfs has $f" grep -qx "$f" "$work/initrd.list"
done
check "the initramfs has no bin/khib (B and R never run the front end)" sh -c "! grep -qx bin/khib '$work/initrd.list'"
check "the initramfs's khib-save is the installed one" \
    sh -c "zcat '$R/usr/lib/khib/khib-initrd.img' | (mkdir -p '$work/ir' && cd '$work/ir' && cpio -id --quiet bin/khib-save) &&
           cmp -s '$work/ir/bin/khib-save' '$R/usr/lib/khib/khib-save'"
check "khib --help runs" sh -c "chroot '$R' /usr/sbin/khib --help | grep -q '^Usage: khib COMMAND'"
check "khib-restore --help runs" sh -c "chroot '$R' /usr/lib/khib/khib-restore --help | grep -q '^Usage: khib-restore'"
check "khib check reads the default /etc/khib.conf" \
    sh -c "chroot '$R' /usr/sbin/khib check 2>&1 | grep -q 'khib check: this system cannot hibernate yet'"
check "khib-retire.service is enabled" test -L "$R/etc/systemd/system/sysinit.target.wants/khib-retire.service"
check "khib-logind.service is enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/khib-logind.service"
check "khib-logind.path is enabled" test -L "$R/etc/systemd/system/paths.target.wants/khib-logind.path"
check "postinst copied the initramfs to /boot" cmp -s "$R/boot/khib-initrd.img" "$R/usr/lib/khib/khib-initrd.img"
check "postinst ran update-grub (GRUB present), with 45_khib and khib installed" \
    grep -qx 'update-grub ran: /etc/grub.d/45_khib khib' "$R/var/tmp/update-grub.log"
check "the hibernate drop-in is installed" test -s "$R/lib/systemd/system/systemd-hibernate.service.d/khib.conf"
check "the logind drop-in is installed" test -s "$R/lib/systemd/system/systemd-logind.service.d/khib.conf"
check "the sleep.conf drop-in is installed" grep -qx 'AllowHibernation=no' "$R/usr/lib/systemd/sleep.conf.d/50-khib.conf"
check "khib boot-args says what is missing" \
    sh -c "chroot '$R' /usr/sbin/khib boot-args 2>&1 | grep -q 'no target= in /etc/khib.conf'"
check "man khib's page is installed" test -s "$R/usr/share/man/man8/khib.8.gz"

# The busybox trigger: reinstalling busybox-static rebuilds the initramfs.
touch -d @1 "$R/usr/lib/khib/khib-initrd.img"
if apt install --reinstall busybox-static; then ok; else bad "reinstalling busybox-static failed:"; show; fi
check "the busybox trigger ran" grep -q 'khib: busybox changed: rebuilding /usr/lib/khib/khib-initrd.img' "$log"
check "the trigger rebuilt the initramfs" test "$(stat -c %Y "$R/usr/lib/khib/khib-initrd.img")" != 1
check "the trigger refreshed the copy in /boot" cmp -s "$R/boot/khib-initrd.img" "$R/usr/lib/khib/khib-initrd.img"

# An upgrade (here a reinstall) of khib rebuilds it too.
touch -d @1 "$R/usr/lib/khib/khib-initrd.img"
if apt install --reinstall /tmp/khib.deb; then ok; else bad "reinstalling khib failed:"; show; fi
check "a reinstall rebuilt the initramfs" test "$(stat -c %Y "$R/usr/lib/khib/khib-initrd.img")" != 1

# Remove: the programs and the initramfs go, the conffile stays.
if apt remove khib; then ok; else bad "apt-get remove khib failed:"; show; fi
check "remove left no /usr/lib/khib" test ! -e "$R/usr/lib/khib"
check "remove left no khib" test ! -e "$R/usr/sbin/khib"
check "remove kept /etc/khib.conf" test -e "$R/etc/khib.conf"
check "remove kept /etc/grub.d/45_khib (a conffile)" test -e "$R/etc/grub.d/45_khib"
check "remove took /boot/khib-initrd.img" test ! -e "$R/boot/khib-initrd.img"
check "postrm ran update-grub at removal, with khib gone" \
    sh -c "tail -n 1 '$R/var/tmp/update-grub.log' | grep -qx 'update-grub ran: /etc/grub.d/45_khib '"
check "dpkg did not complain of a directory left behind" sh -c "! grep -q 'not empty so not removed' '$log'"

# Purge (with the dependencies apt installed for it): the tree as before.
# apt's autoremove keeps a dependency that another installed package
# recommends (busybox-static, by initramfs-tools): what the install pulled
# in is purged by name, as a user undoing it would.
if apt purge --autoremove khib; then ok; else bad "apt-get purge --autoremove khib failed:"; show; fi
pulled=$(packages | LC_ALL=C comm -13 "$work/packages.before" - | paste -sd ' ' -)
# shellcheck disable=SC2086 # package names
if [ -z "$pulled" ] || apt purge $pulled; then ok; else bad "apt-get purge $pulled failed:"; show; fi
check "purge removed /etc/khib.conf" test ! -e "$R/etc/khib.conf"
check "purge removed /etc/grub.d/45_khib" test ! -e "$R/etc/grub.d/45_khib"
snapshot > "$work/after"
if diff "$work/before" "$work/after" > "$work/diff"; then ok; else
    bad "the chroot differs after the purge (< before, > after):"
    sed 's/^/    /' "$work/diff" | head -n 30
fi
finish
