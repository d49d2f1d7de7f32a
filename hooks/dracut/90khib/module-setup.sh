#!/bin/bash
# dracut module "khib": khib's restore step in a dracut initramfs (Fedora,
# openSUSE, ...).  Installed as /usr/lib/dracut/modules.d/90khib/.
#
# The hook runs in pre-mount (khib-pre-mount.sh, priority 10).  Why not
# pre-udev: it runs before udev has loaded the storage drivers, so the image
# partition does not exist yet (and waiting there would only wait for
# nothing).  pre-mount runs after the initqueue has settled and the root
# device has appeared, and before the root file system is checked (fsck) or
# mounted; with systemd in the initramfs it is dracut-pre-mount.service, a
# oneshot service (no start timeout), Before=systemd-fsck-root.service.
#
# dracut sources this file in bash and sets $moddir and $kernel (the kernel
# version being built for); KHIB_SYSROOT (tests) is prepended to the paths
# looked up on this system.
# shellcheck disable=SC2154

# Included whenever khib and kexec are installed: at boot the hook checks the
# image on target= of /etc/khib.conf (copied in below) and, when it holds a
# committed image that can be restored, starts the restore kernel; an image
# it refuses it retires.  What it built is recorded in
# /var/lib/khib/initramfs/$kernel for khib check (docs/hooks.md).
check() {
    [[ -x ${KHIB_SYSROOT-}/usr/lib/khib/khib-restore ]] || return 1
    require_binaries kexec || return 1
    return 0
}

depends() {
    return 0
}

install() {
    local image='' candidate complete=1 target='' stamp device offset
    local root=${KHIB_SYSROOT-}${dracutsysrootdir-}
    inst_multiple /usr/lib/khib/khib-restore /usr/lib/khib/khib-resume.sh /usr/lib/khib/khib-lib.sh kexec
    # The restore kernel's initramfs (khib's own, built by the package).
    if [[ -f $root/usr/lib/khib/khib-initrd.img ]]; then
        inst_simple /usr/lib/khib/khib-initrd.img
    else
        complete=
        dwarn "khib: /usr/lib/khib/khib-initrd.img is missing: the ordinary boot cannot start the restore kernel (build it: dpkg-reconfigure khib, or make install)"
    fi
    # The kernel this initramfs is for: khib-resume.sh kexecs it as the
    # restore kernel (and to boot again with full memory after the confined
    # restore entry).
    for candidate in "/lib/modules/$kernel/vmlinuz" "/usr/lib/modules/$kernel/vmlinuz" "/boot/vmlinuz-$kernel"; do
        if [[ -f ${KHIB_SYSROOT-}${dracutsysrootdir-}$candidate ]]; then
            image=$candidate
            break
        fi
    done
    if [[ -n $image ]]; then
        inst_simple "$image" /usr/lib/khib/vmlinuz
    else
        complete=
        dwarn "khib: no kernel image for $kernel: khib.kernel= must name the restore kernel"
    fi
    # khib's configuration: an ordinary boot resumes or retires the image on
    # its target= before anything is mounted.
    if [[ -f $root/etc/khib.conf ]]; then
        inst_simple /etc/khib.conf
        target=$(sed -n 's/^[[:space:]]*target[[:space:]]*=[[:space:]]*//p' "$root/etc/khib.conf" | tail -n 1)
    else
        complete=
        dwarn "khib: /etc/khib.conf is missing: an ordinary boot can neither resume nor retire a hibernation image (write target= there, then rebuild the initramfs)"
    fi
    inst_hook pre-mount 10 "$moddir/khib-pre-mount.sh"
    stamp=$root/var/lib/khib/initramfs/$kernel
    if [[ -n $complete && -n $target ]]; then
        # An image file (khib setup-target): the device and offset its hook looks at.
        device=$(sed -n 's/^[[:space:]]*target-device[[:space:]]*=[[:space:]]*//p' "$root/etc/khib.conf" | tail -n 1)
        offset=$(sed -n 's/^[[:space:]]*target-offset[[:space:]]*=[[:space:]]*//p' "$root/etc/khib.conf" | tail -n 1)
        mkdir -p "${stamp%/*}" && {
            printf 'generator=dracut\ntarget=%s\n' "$target"
            [ -z "$offset" ] || printf 'target-device=%s\ntarget-offset=%s\n' "$device" "$offset"
        } > "$stamp" ||
            dwarn "khib: could not write $stamp: khib check cannot tell that the ordinary boot resumes"
    else
        rm -f "$stamp"
    fi
}
