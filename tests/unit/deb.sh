#!/bin/sh
# The Debian package (debian/, man/): `make deb` builds it, lintian finds no
# error or warning in the .deb and the .changes, the package holds every
# file it must (and no initramfs: postinst builds that), its maintainer
# scripts and triggers do what debian/ says, and the man pages render
# without warnings; then tests/unit/deb-chroot.sh installs, triggers,
# removes and purges it in a Debian 12 chroot (as root).
# Prints "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck disable=SC1091 # followed by shellcheck -x
. "$root/tests/lib/check.sh"
# shellcheck disable=SC1091 # followed by shellcheck -x
. "$root/tests/lib/counts.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$root" || exit 1
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
arch=$(dpkg --print-architecture)
# Built in a directory of this run's own: another run (make check-unit of
# someone else in this tree) may build at the same time.
deb=$tmp/khib_${version}_${arch}.deb
changes=$tmp/khib_${version}_${arch}.changes

if make deb DEB_DIR="$tmp/deb" DEB_OUT="$tmp" > "$tmp/build.log" 2>&1; then ok; else
    bad "make deb failed:"
    tail -n 30 "$tmp/build.log"
fi
check "make deb made $deb" test -s "$deb"
check "make deb made $changes" test -s "$changes"
# dh skips an empty override: without it, dh_auto_test would run make check.
check "the package build did not run the test suite" \
    sh -c "! grep -q 'dh_auto_test\|make.* check' '$tmp/build.log'"

# lintian as root says so on stderr; only its tags count.
lintian "$deb" "$changes" > "$tmp/lintian" 2>/dev/null
if grep -q '^[EW]: ' "$tmp/lintian"; then
    bad "lintian has errors or warnings:"
    grep '^[EW]: ' "$tmp/lintian"
else
    ok
fi

dpkg-deb -c "$deb" 2>/dev/null | awk '{ print $6 }' | sed 's|^\./|/|' > "$tmp/files"
for f in /usr/sbin/khib /usr/lib/khib/khib-save /usr/lib/khib/khib-restore \
    /usr/lib/khib/khib-resume.sh /usr/lib/khib/mkinitramfs /usr/lib/khib/initramfs/init \
    /usr/lib/khib/mkrescue-stick /usr/share/man/man8/khib-rescue-stick.8.gz /usr/share/doc/khib/rescue-stick.md \
    /usr/share/initramfs-tools/hooks/khib /usr/share/initramfs-tools/scripts/local-top/khib \
    /usr/lib/dracut/modules.d/90khib/module-setup.sh /usr/lib/dracut/modules.d/90khib/khib-pre-mount.sh \
    /lib/systemd/system/khib-retire.service /etc/khib.conf \
    /lib/systemd/system/khib-logind.service /lib/systemd/system/khib-logind.path \
    /lib/systemd/system/systemd-hibernate.service.d/khib.conf \
    /lib/systemd/system/systemd-suspend-then-hibernate.service.d/khib.conf \
    /lib/systemd/system/systemd-hybrid-sleep.service.d/khib.conf \
    /lib/systemd/system/systemd-logind.service.d/khib.conf \
    /usr/lib/systemd/sleep.conf.d/50-khib.conf /etc/grub.d/45_khib \
    /usr/share/doc/khib/systemd.md /usr/share/doc/khib/grub.md \
    /usr/share/man/man8/khib.8.gz /usr/share/man/man8/khib-save.8.gz \
    /usr/share/man/man8/khib-restore.8.gz /usr/share/man/man5/khib.conf.5.gz \
    /usr/share/doc/khib/README.md /usr/share/doc/khib/khib.md /usr/share/doc/khib/hooks.md \
    /usr/share/doc/khib/install.md /usr/share/doc/khib/copyright /usr/share/doc/khib/changelog.gz; do
    check "the package has $f" grep -qx "$f" "$tmp/files"
done
check "the package does not ship the initramfs" sh -c "! grep -q 'khib-initrd.img' '$tmp/files'"
check "the package ships no mkinitcpio files" sh -c "! grep -q initcpio '$tmp/files'"

mkdir -p "$tmp/x" "$tmp/ctl"
dpkg-deb -x "$deb" "$tmp/x" && dpkg-deb -e "$deb" "$tmp/ctl"
for f in usr/sbin/khib usr/lib/khib/khib-save usr/lib/khib/khib-restore; do
    check "$f is static" sh -c "file -L '$tmp/x/$f' | grep -q 'statically linked'"
done
check "khib --help runs" sh -c "'$tmp/x/usr/sbin/khib' --help | grep -q '^Usage: khib'"
check "no khib link under /usr/lib/khib (B's initramfs has no front end)" test ! -e "$tmp/x/usr/lib/khib/khib"
check "/etc/khib.conf is a conffile" grep -qx /etc/khib.conf "$tmp/ctl/conffiles"
check "/etc/grub.d/45_khib is a conffile" grep -qx /etc/grub.d/45_khib "$tmp/ctl/conffiles"
check "/etc/grub.d/45_khib is executable" test -x "$tmp/x/etc/grub.d/45_khib"
for u in systemd-hibernate systemd-suspend-then-hibernate systemd-hybrid-sleep systemd-logind; do
    check "the $u.service drop-in is systemd/'s" cmp -s "$tmp/x/lib/systemd/system/$u.service.d/khib.conf" "systemd/$u.service.d/khib.conf"
done
check "khib.conf sets nothing (every key commented out)" \
    sh -c "! grep -v '^#' '$tmp/x/etc/khib.conf' | grep -q ."
for key in target kernel initrd kexec append window level trim ignore-fs boot restore-append; do
    check "khib.conf lists $key=" grep -q "^#$key=" "$tmp/x/etc/khib.conf"
done
# Each example value, uncommented, is one khib accepts.
sed -n 's/^#\([a-z-]*=.*\)/\1/p' "$tmp/x/etc/khib.conf" > "$tmp/khib.conf"
check "khib.conf's examples are valid settings" \
    sh -c "'$tmp/x/usr/sbin/khib' retire --config '$tmp/khib.conf' --target /nonexistent >/dev/null 2>&1; [ \$? = 2 ]"
check "the busybox trigger" grep -qx 'interest-noawait /bin/busybox' "$tmp/ctl/triggers"
check "the update-initramfs trigger" grep -qx 'activate-noawait update-initramfs' "$tmp/ctl/triggers"
check "postinst builds the initramfs" grep -q 'mkinitramfs -b /usr/lib/khib -o /usr/lib/khib/khib-initrd.img' "$tmp/ctl/postinst"
check "postinst rebuilds it when triggered" grep -q '^    triggered)' "$tmp/ctl/postinst"
check "postinst enables khib-retire.service" grep -q "deb-systemd-helper enable 'khib-retire.service'" "$tmp/ctl/postinst"
check "postinst does not start khib-retire.service" sh -c "! grep 'deb-systemd-invoke' '$tmp/ctl/postinst' | grep -q retire"
check "postinst enables khib-logind.path" grep -q "deb-systemd-helper enable 'khib-logind.path'" "$tmp/ctl/postinst"
check "postinst enables khib-logind.service" grep -q "deb-systemd-helper enable 'khib-logind.service'" "$tmp/ctl/postinst"
check "postinst starts khib-logind" grep -q "deb-systemd-invoke .*'khib-logind.path' 'khib-logind.service'" "$tmp/ctl/postinst"
check "postinst copies the initramfs to /boot" grep -q 'cp /usr/lib/khib/khib-initrd.img /boot/khib-initrd.img.tmp' "$tmp/ctl/postinst"
check "postinst runs update-grub when GRUB is there" \
    grep -q 'if \[ -e /boot/grub/grub.cfg \] && command -v update-grub' "$tmp/ctl/postinst"
# shellcheck disable=SC2016 # the script's own "$1"
check "postrm runs update-grub at removal when GRUB is there" \
    grep -q 'if \[ "$1" = remove \] && \[ -e /boot/grub/grub.cfg \] && command -v update-grub' "$tmp/ctl/postrm"
check "prerm removes the copy in /boot" grep -q '/boot/khib-initrd.img ' "$tmp/ctl/prerm"
check "postrm removes logind's runtime drop-in" grep -q '/run/systemd/sleep.conf.d/50-khib.conf' "$tmp/ctl/postrm"
check "prerm removes the initramfs" grep -q 'rm -f /usr/lib/khib/khib-initrd.img' "$tmp/ctl/prerm"
check "postrm removes the initramfs" grep -q 'rm -f /usr/lib/khib/khib-initrd.img' "$tmp/ctl/postrm"
check "Depends" sh -c "dpkg-deb -f '$deb' Depends | grep -q 'busybox-static.*kexec-tools'"

# The packaged mkinitramfs, run as postinst runs it, builds an initramfs
# with /init and the programs (busybox from the host).
if command -v busybox >/dev/null 2>&1; then
    if sh "$tmp/x/usr/lib/khib/mkinitramfs" -b "$tmp/x/usr/lib/khib" -o "$tmp/initrd.img" >/dev/null 2>&1; then
        ok
        zcat "$tmp/initrd.img" | cpio -t --quiet 2>/dev/null > "$tmp/initrd.list"
        for f in init bin/busybox bin/khib-save bin/khib-restore; do
            check "the initramfs has $f" grep -qx "$f" "$tmp/initrd.list"
        done
        check "the initramfs has no bin/khib" sh -c "! grep -qx bin/khib '$tmp/initrd.list'"
    else
        bad "the packaged mkinitramfs failed"
    fi
else
    bad "busybox is missing (apt-get install busybox-static)"
fi

for m in man/khib.8 man/khib-save.8 man/khib-restore.8 man/khib.conf.5; do
    out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$m" 2>&1 >/dev/null)
    out=$out$(groff -man -ww -z "$m" 2>&1)
    if [ -z "$out" ]; then ok; else bad "$m renders with warnings: $out"; fi
    check "$m has every section" sh -c "for s in NAME SYNOPSIS DESCRIPTION OPTIONS FILES 'SEE ALSO'; do grep -q \"^\\.SH \\\"\\?\$s\" '$m' || exit 1; done"
done
check "khib.8 has EXIT STATUS" grep -q '^\.SH "EXIT STATUS"' man/khib.8
# Every option in a program's --help is in its man page.
for p in khib khib-save khib-restore; do
    prog=$tmp/x/usr/sbin/$p
    [ -x "$prog" ] || prog=$tmp/x/usr/lib/khib/$p
    sed 's/\\-/-/g' "man/$p.8" > "$tmp/$p.man"
    for o in $("$prog" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        check "$p(8) documents $o" grep -q -- "$o" "$tmp/$p.man"
    done
done

if command -v shellcheck >/dev/null 2>&1; then
    for f in debian/khib.postinst debian/khib.prerm debian/khib.postrm tests/unit/deb.sh tests/unit/deb-chroot.sh grub/45_khib; do
        if msg=$(shellcheck -S warning "$f" 2>&1); then ok; else bad "shellcheck -S warning $f: $msg"; fi
    done
else
    bad "shellcheck is missing"
fi

# Installed, triggered, removed and purged in a Debian 12 chroot: its
# checks count here (deb-chroot.sh also runs alone).
out=$(KHIB_DEB=$deb sh "$here/deb-chroot.sh" 2>&1) && rc=0 || rc=$?
c=$(counts_of "$rc" "$out")
passed=$((passed + ${c% *}))
failed=$((failed + ${c#* }))
printf '%s\n' "$out" | sed '$d' | sed 's/^/chroot: /'

counts
