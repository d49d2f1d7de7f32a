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

# Included whenever khib and kexec are installed: at boot the hook restores
# only when the command line names an image (khib.image=); otherwise it at
# most retires the image on target= of /etc/khib.conf (copied in below).
check() {
    [[ -x ${KHIB_SYSROOT-}/usr/lib/khib/khib-restore ]] || return 1
    require_binaries kexec || return 1
    return 0
}

depends() {
    return 0
}

install() {
    local image='' candidate
    inst_multiple /usr/lib/khib/khib-restore /usr/lib/khib/khib-resume.sh /usr/lib/khib/khib-lib.sh kexec
    # The kernel this initramfs is for, kexec'd by khib-resume.sh to boot
    # again with full memory when there is no image to restore.
    for candidate in "/lib/modules/$kernel/vmlinuz" "/usr/lib/modules/$kernel/vmlinuz" "/boot/vmlinuz-$kernel"; do
        if [[ -f ${KHIB_SYSROOT-}${dracutsysrootdir-}$candidate ]]; then
            image=$candidate
            break
        fi
    done
    if [[ -n $image ]]; then
        inst_simple "$image" /usr/lib/khib/vmlinuz
    else
        dwarn "khib: no kernel image for $kernel: khib.kernel= must name one for the full-memory boot"
    fi
    # khib's configuration: an ordinary boot (no khib.image=) retires the
    # image on its target= before anything is mounted.
    if [[ -f ${KHIB_SYSROOT-}${dracutsysrootdir-}/etc/khib.conf ]]; then
        inst_simple /etc/khib.conf
    else
        dwarn "khib: /etc/khib.conf is missing: an ordinary boot cannot retire a hibernation image (write target= there, then rebuild the initramfs)"
    fi
    inst_hook pre-mount 10 "$moddir/khib-pre-mount.sh"
}
