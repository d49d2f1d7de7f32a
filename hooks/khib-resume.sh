#!/bin/sh
# shellcheck disable=SC2154 # the khib_* variables are set by khib-lib.sh
# khib-resume.sh: the restore step inside a distribution's own initramfs
# (initramfs-tools, dracut, mkinitcpio; see docs/hooks.md).  Run early in the
# boot, before any root file system is mounted and before any disk is written.
#
#   no khib.image= on the command line   an ordinary boot: retire the image
#                                        on target= of khib.conf, if any
#   khib.image=DEV                       run khib-restore --image DEV --jump:
#                                        with a valid image it never returns
#
# Retiring: whenever this boot goes on normally, it is about to mount and
# change the file systems, so a committed image on the target must never be
# resumed afterwards.  "khib-restore --image TARGET --abandon REASON" marks
# it ABANDONED before anything is mounted; it prints one line when it did,
# and nothing when there was no committed image (exit 10).  The target is
# khib.image= when the command line has it, else target= of the khib.conf
# that khib's build hooks copy into the initramfs.  No target: nothing.
#
# When khib-restore returns (no image, image refused, damaged, jump failed),
# the image is retired and the boot goes on normally (a device or a
# khib-restore that is missing: one line says it could not be retired).  If
# the command line confines this kernel to khib's window (memmap=exactmap),
# the kernel sees only the window's memory, so this kernel is booted again
# with full memory: kexec -l of khib.kernel= and khib.initrd= with the
# command line cleaned of khib's words, then kexec -e.  If that is
# impossible, one line says so and the boot continues with the small memory.
# This script always exits 0: it never stops the boot.
#
# Command line words (read here, removed for the second boot):
#   khib.image=DEV    the image partition (a block device path; udev's
#                     /dev/disk/by-partlabel/... and by-partuuid/... work)
#   khib.kernel=FILE  the kernel to kexec (default /usr/lib/khib/vmlinuz,
#                     which khib's generator hooks copy into the initramfs)
#   khib.initrd=FILE  the initramfs to kexec (default /sys/firmware/initrd:
#                     needs retain_initrd on the command line, Linux >= 6.8)
#   khib.wait=SECONDS how long to wait for DEV (or target=) to appear
#                     (default 5)
#
# Cleaning rule for the second boot's command line: drop every khib.* word,
# every memmap= word and retain_initrd; drop nokaslr only when the next word
# is memmap=exactmap (khib's entry writes "nokaslr memmap=exactmap ..."
# together: a nokaslr anywhere else is the user's own and stays).
#
# The command line, the wait for the device, khib-restore's two calls:
# khib-lib.sh beside this script, shared with the khib initramfs's /init.
#
# Environment, for tests (defaults in brackets):
#   KHIB_CMDLINE  file holding the command line [/proc/cmdline]
#   KHIB_RESTORE  the khib-restore program [/usr/lib/khib/khib-restore]
#   KHIB_KEXEC    the kexec program [kexec found in PATH]
#   KHIB_CONF     khib's configuration [/etc/khib.conf]
#
# Messages go to stderr: under dracut with systemd, a hook's stdout goes to
# the journal only, its stderr also to the console.
set -eu
PATH=${PATH:-/usr/bin}:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

say() { echo "khib: $*" >&2; }

# shellcheck source=hooks/khib-lib.sh
. "$(dirname "$0")/khib-lib.sh"

restore=${KHIB_RESTORE:-/usr/lib/khib/khib-restore}
conf=${KHIB_CONF:-/etc/khib.conf}
khib_cmdline "${KHIB_CMDLINE:-/proc/cmdline}" || exit 0

# The words are split on blanks with globbing off: a word such as "*" or
# "a?b" on the command line must stay itself.
set -f

confined() {   # the command line carries khib's window confinement
    for word in $khib_cmdline; do
        [ "$word" = memmap=exactmap ] && return 0
    done
    return 1
}

clean_cmdline() {   # the command line minus khib's words (rule above)
    out=
    held=   # a nokaslr waiting for its next word
    for word in $khib_cmdline; do
        if [ -n "$held" ]; then
            [ "$word" = memmap=exactmap ] || out="$out nokaslr"
            held=
        fi
        case "$word" in
            nokaslr) held=1; continue ;;
            memmap=* | khib.* | retain_initrd) continue ;;
        esac
        out="$out $word"
    done
    [ -z "$held" ] || out="$out nokaslr"
    printf '%s\n' "${out# }"
}

conf_target() {   # print target= of khib.conf (the last one); fail if none
    # The rules of khib's own parser (frontend/settings.c): "key=value"
    # lines, blanks around the key and before the value ignored, lines
    # starting with # are comments.  Only target= matters here.
    [ -f "$conf" ] && [ -r "$conf" ] || return 1
    target=
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line#"${line%%[![:space:]]*}"}
        case "$line" in '#'*) continue ;; *=*) ;; *) continue ;; esac
        key=${line%%=*}
        key=${key%"${key##*[![:space:]]}"}
        [ "$key" = target ] || continue
        target=${line#*=}
        target=${target#"${target%%[![:space:]]*}"}
    done < "$conf"
    [ -n "$target" ] && printf '%s\n' "$target"
}

retire() {   # retire DEV REASON: mark a committed image on DEV ABANDONED
    # DEV is there (the caller waited for it).  khib-restore prints its one
    # line itself; nothing when there was no committed image (10).
    if [ ! -x "$restore" ]; then
        say "cannot retire an image on $1: $restore is missing from this initramfs (fix: install khib and rebuild the initramfs with its hook)"
        return 0
    fi
    khib_abandon "$restore" "$1" "$2" ||
        say "the image on $1, if any, could not be retired (khib-restore --abandon exit $khib_arc, cause above); only khib-restore's file system checks now keep it from resuming over this boot's changes (fix: the cause above, then khib retire)"
    return 0
}

normal_boot_retire() {   # normal_boot_retire DEV REASON: wait for DEV, retire
    if khib_wait_for "$1" "$wait_s"; then
        retire "$1" "$2"
    else
        say "image device $1 not found after ${wait_s} s: an image on it, if any, could not be retired (fix: check target= in /etc/khib.conf, or give a slow disk more time with khib.wait=SECONDS)"
    fi
}

small_memory() {   # small_memory CAUSE FIX: the one line when kexec is impossible
    say "cannot boot again with full memory: $1; this boot continues with only khib's window of memory (fix: $2, or reboot with the normal boot entry)"
}

full_memory() {   # boot this kernel again without the window's confinement
    confined || return 0
    kernel=$(khib_arg khib.kernel) || kernel=/usr/lib/khib/vmlinuz
    initrd=$(khib_arg khib.initrd) || initrd=/sys/firmware/initrd
    kexec=${KHIB_KEXEC:-$(command -v kexec || true)}
    if [ -z "$kexec" ] || [ ! -x "$kexec" ]; then
        small_memory "kexec is not in this initramfs${kexec:+ ($kexec)}" \
            "install kexec-tools and rebuild the initramfs"
        return 0
    fi
    if [ ! -f "$kernel" ]; then
        small_memory "the kernel image $kernel is missing" \
            "rebuild the initramfs with khib's hook installed, or name the kernel with khib.kernel="
        return 0
    fi
    if [ ! -f "$initrd" ]; then
        small_memory "the initramfs $initrd is missing" \
            "add retain_initrd to the restore entry's command line (Linux 6.8 or newer), or name the initramfs with khib.initrd="
        return 0
    fi
    clean=$(clean_cmdline)
    [ "$khib_rc" = 11 ] && clean="$clean khib.locked=1"
    say "booting this kernel again with full memory (kexec $kernel)"
    rc=0
    "$kexec" -l "$kernel" --initrd="$initrd" --command-line="$clean" || rc=$?
    if [ "$rc" != 0 ]; then
        small_memory "kexec -l $kernel failed (exit $rc, message above)" \
            "check the kernel image and that the window holds it and the initramfs twice (a larger window= in /etc/khib.conf)"
        return 0
    fi
    rc=0
    "$kexec" -e || rc=$?   # does not return when it works
    "$kexec" -u >/dev/null 2>&1 || true   # give the loaded copy's memory back
    small_memory "kexec -e returned (exit $rc, message above)" \
        "check that this kernel has CONFIG_KEXEC=y and is not locked down"
    return 0
}

khib_rc=0   # khib-restore's exit status, once it ran
wait_s=$(khib_arg khib.wait) || wait_s=5
case "$wait_s" in '' | *[!0-9]*) say "khib.wait=$wait_s is not a number of seconds: waiting 5"; wait_s=5 ;; esac

if ! image=$(khib_arg khib.image); then
    # An ordinary boot: retire the configured target's image, if any; not
    # the second boot after an encrypted image stayed locked (khib.locked=1,
    # added below): the owner may try again.
    if [ "$(khib_arg khib.locked || true)" = 1 ]; then
        say "an encrypted image stayed locked in the boot before: it is kept (its file system checks refuse it once this boot changes the disks)"
        exit 0
    fi
    target=$(conf_target) || exit 0
    normal_boot_retire "$target" "a normal boot started (no khib.image= on the command line)"
    exit 0
fi

if ! khib_wait_for "$image" "$wait_s"; then
    say "image device $image not found after ${wait_s} s: booting normally, and an image on it, if any, could not be retired (fix: check khib.image= on the restore entry, or give a slow disk more time with khib.wait=SECONDS)"
elif [ ! -x "$restore" ]; then
    say "$restore is missing from this initramfs: booting normally, and an image on $image, if any, could not be retired (fix: install khib and rebuild the initramfs with its hook)"
else
    say "looking for a hibernation image on $image"
    khib_restore "$restore" "$image"
    case "$khib_rc" in
        10) say "no committed image on $image: booting normally" ;;
        11) say "the encrypted image on $image stays locked (no right passphrase): booting normally; the image is kept, the next boot of the restore entry may try again" ;;
        0) say "khib-restore returned without jumping into the saved system (exit 0): booting normally (fix: read khib-restore's messages above; khib-restore --image $image --info shows the image's state)" ;;
        *) say "restore refused or failed (khib-restore exit $khib_rc, cause above): booting normally, so the image is retired (fix: the cause above, then hibernate again; khib-restore --image $image --info shows the image)" ;;
    esac
    # Before the full-memory kexec: this boot goes on to mount the disks.
    # (The second boot has no khib.image= and finds nothing to retire.)
    # A locked image is kept: the owner may try again on the next boot.
    [ "$khib_rc" = 11 ] || retire "$image" "a normal boot started after $khib_why (khib-restore exit $khib_rc)"
fi
full_memory
exit 0
