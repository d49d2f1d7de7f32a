#!/bin/sh
# shellcheck disable=SC2154 # the khib_* variables are set by khib-lib.sh
# khib-resume.sh: the restore step inside a distribution's own initramfs
# (initramfs-tools, dracut, mkinitcpio; see docs/hooks.md).  Run early in the
# boot, before any root file system is mounted and before any disk is written.
#
# An ordinary boot (the command line is not confined to khib's window): the
# image is khib.image= when the command line has one, else target= of the
# khib.conf that khib's build hooks copy into the initramfs; none: nothing.
# "khib-restore --image DEV --resumable" reads its superblock and runs every
# check of a restore (read-only, a few milliseconds):
#   10 (no committed image)  the boot goes on, silently;
#   0  (it would restore)    load the restore kernel R (khib.kernel=, default
#                            /usr/lib/khib/vmlinuz, with khib's initramfs
#                            /usr/lib/khib/khib-initrd.img) confined to the
#                            image's window, with plain kexec (-l, then -e:
#                            this kernel's memory does not matter); R
#                            restores and jumps into the saved system;
#   11 (an encrypted image   R exited 11 at the last boot (three wrong
#      stayed locked)        passphrases, none in time) and marked the image
#                            (locked_ns): one line says so, the mark is
#                            cleared (khib-restore --clear-locked), the image
#                            is kept, not retired, and the boot goes on.
#                            Without the mark every boot would start R,
#                            which asks again and reboots (khib.normal=reboot);
#                            a later boot may try again, and refuses the
#                            image once the file systems changed;
#   anything else            refused: one line says why, the image is
#                            retired, the boot goes on.
# Retiring: whenever this boot goes on normally, it is about to mount and
# change the file systems, so a committed image must never be resumed
# afterwards: "khib-restore --image DEV --abandon REASON" marks it ABANDONED
# before anything is mounted.  A restore kernel that cannot be loaded or
# started retires the image the same way.
#
# The confined restore entry (memmap=exactmap and khib.image= on the command
# line: this kernel is R itself) runs "khib-restore --image DEV --jump" here;
# when it returns (no image, image refused, damaged, jump failed), the image
# is retired, and this kernel, which sees only the window's memory, is
# booted again with full memory: kexec -l of khib.kernel= and khib.initrd=
# with the command line cleaned of khib's words, then kexec -e.  If that is
# impossible, one line says so and the boot continues with the small memory.
# This script always exits 0: it never stops the boot.
#
# Command line words (read here, removed for the second boot):
#   khib.image=DEV    the image partition (a block device path; udev's
#                     /dev/disk/by-partlabel/... and by-partuuid/... work)
#   khib.offset=BYTES the image lives in a file on DEV's file system, its
#                     first block at this byte of DEV (without khib.image=:
#                     target-device= and target-offset= of khib.conf, which
#                     khib setup-target writes; docs/file-target.md)
#   khib.kernel=FILE  the kernel of R, and of the full-memory boot (default
#                     /usr/lib/khib/vmlinuz: khib's build hooks copy the
#                     kernel the initramfs is built for there)
#   khib.initrd=FILE  the initramfs of the full-memory boot (default
#                     /sys/firmware/initrd: needs retain_initrd on the
#                     command line, Linux >= 6.8)
#   khib.wait=SECONDS how long to wait for DEV (or target=) to appear
#                     (default 5)
#   khib.locked=1     (added by this script for the full-memory boot after
#                     R's exit 11) the encrypted image stayed locked: kept,
#                     its mark cleared, nothing resumed
#   noresume, khib.noresume  an ordinary boot does not resume: it retires a
#                     committed image (the way out when R hangs at every boot)
#
# Cleaning rule for the second boot's command line: drop every khib.* word,
# every memmap= word and retain_initrd; drop nokaslr only when the next word
# is memmap=exactmap (khib's entry writes "nokaslr memmap=exactmap ..."
# together: a nokaslr anywhere else is the user's own and stays).
#
# The command line, the wait for the device, khib-restore's calls:
# khib-lib.sh beside this script, shared with the khib initramfs's /init.
#
# Environment, for tests (defaults in brackets):
#   KHIB_CMDLINE  file holding the command line [/proc/cmdline]
#   KHIB_RESTORE  the khib-restore program [/usr/lib/khib/khib-restore]
#   KHIB_KEXEC    the kexec program [kexec found in PATH]
#   KHIB_CONF     khib's configuration [/etc/khib.conf]
#   KHIB_RINITRD  R's initramfs [/usr/lib/khib/khib-initrd.img]
#
# Messages go to stderr: under dracut with systemd, a hook's stdout goes to
# the journal only, its stderr also to the console.
set -eu
PATH=${PATH:-/usr/bin}:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

say() { echo "khib: $*" >&2; }

# shellcheck source=hooks/khib-lib.sh
case "$0" in */*) here=${0%/*} ;; *) here=. ;; esac
. "$here/khib-lib.sh"

restore=${KHIB_RESTORE:-/usr/lib/khib/khib-restore}
conf=${KHIB_CONF:-/etc/khib.conf}
khib_cmdline "${KHIB_CMDLINE:-/proc/cmdline}" || exit 0

# The words are split on blanks with globbing off: a word such as "*" or
# "a?b" on the command line must stay itself.
set -f

has_word() {   # has_word WORD: the command line has WORD
    for word in $khib_cmdline; do
        [ "$word" = "$1" ] && return 0
    done
    return 1
}

confined() {   # the command line carries khib's window confinement
    has_word memmap=exactmap
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

conf_value() {   # conf_value KEY: set $value to KEY= of khib.conf (the last one); fail if none
    # The rules of khib's own parser (frontend/settings.c): "key=value"
    # lines, blanks around the key and before the value ignored, lines
    # starting with # are comments.
    [ -f "$conf" ] && [ -r "$conf" ] || return 1
    value=
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line#"${line%%[![:space:]]*}"}
        case "$line" in '#'*) continue ;; *=*) ;; *) continue ;; esac
        key=${line%%=*}
        key=${key%"${key##*[![:space:]]}"}
        [ "$key" = "$1" ] || continue
        value=${line#*=}
        value=${value#"${value%%[![:space:]]*}"}
    done < "$conf"
    [ -n "$value" ]
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

# restore_kernel DEV MIB: load R confined to [0, MIB MiB) and start it.
# Returns only when that failed, with the cause in $why.
restore_kernel() {
    kernel=$(khib_arg khib.kernel) || kernel=/usr/lib/khib/vmlinuz
    rinitrd=${KHIB_RINITRD:-/usr/lib/khib/khib-initrd.img}
    kexec=${KHIB_KEXEC:-$(command -v kexec || true)}
    if [ -z "$kexec" ] || [ ! -x "$kexec" ]; then
        why="kexec is not in this initramfs (fix: apt-get install kexec-tools, then rebuild the initramfs)"
        return 0
    fi
    for file in "$kernel" "$rinitrd"; do
        if [ ! -f "$file" ]; then
            why="$file is missing from this initramfs (fix: rebuild the initramfs with khib's hook: update-initramfs -u, or dracut -f)"
            return 0
        fi
    done
    # R finds the device without udev (khib's initramfs): its kernel name.
    dev=$(readlink -f "$1" 2>/dev/null) || dev=$1
    words="nokaslr memmap=exactmap memmap=640K@0 memmap=$(($2 - 1))M@1M khib.role=restore khib.image=$dev${khib_offset:+ khib.offset=$khib_offset} khib.normal=reboot"
    for word in $khib_cmdline; do
        case "$word" in console=* | earlyprintk=* | loglevel=* | panic=*) words="$words $word" ;; esac
    done
    ! conf_value restore-append || words="$words $value"
    say "resuming the hibernated system from $1: starting the restore kernel in khib's window of $2 MiB (kexec $kernel)"
    rc=0
    # -c: kexec_load, which places every segment below --mem-max
    # (kexec_file_load, the default of kexec-tools >= 2.0.27, does not).
    "$kexec" -c -l "$kernel" --initrd="$rinitrd" --mem-min=0 --mem-max="$(($2 * 1048576 - 1))" \
        --command-line="$words" || rc=$?
    if [ "$rc" != 0 ]; then
        why="kexec -l of the restore kernel failed (exit $rc, message above)"
        return 0
    fi
    "$kexec" -e || rc=$?   # does not return when it works
    "$kexec" -u > /dev/null 2>&1 || true
    why="kexec -e of the restore kernel returned (exit $rc, message above; fix: a kernel with CONFIG_KEXEC=y, not locked down)"
}

# A newline, to take the last line of khib-restore's output without tail
# (which a dracut initramfs may lack).
nl='
'

clear_locked() {   # clear_locked DEV: a later boot may try the locked image again
    "$restore" --image "$1" ${khib_offset:+"--offset=$khib_offset"} --clear-locked ||
        say "could not clear the locked mark of the image on $1 (khib-restore --clear-locked exit $?, cause above): the next boots do not resume it either (fix: khib-restore --image $1 --clear-locked)"
}

# ordinary IMAGE: an ordinary boot's check of the configured image.
ordinary() {
    if ! khib_wait_for "$1" "$wait_s"; then
        say "image device $1 not found after ${wait_s} s: an image on it, if any, could neither be resumed nor retired (fix: check target= in /etc/khib.conf, or give a slow disk more time with khib.wait=SECONDS)"
        return 0
    fi
    if [ ! -x "$restore" ]; then
        say "$restore is missing from this initramfs: an image on $1, if any, could neither be resumed nor retired (fix: install khib and rebuild the initramfs with its hook)"
        return 0
    fi
    if has_word noresume || has_word khib.noresume; then
        # The way out of a restore kernel that hangs (each boot would start
        # it again): the boot goes on, so a committed image is retired.
        retire "$1" "a normal boot started with noresume on the command line"
        return 0
    fi
    if [ "$(khib_arg khib.locked || true)" = 1 ]; then
        # The confined restore entry's second boot: the image stayed locked.
        say "the encrypted image on $1 stayed locked in the boot before: it is kept, not resumed by this boot"
        clear_locked "$1"
        return 0
    fi
    rc=0
    out=$("$restore" --image "$1" ${khib_offset:+"--offset=$khib_offset"} --resumable 2>&1) || rc=$?
    case "$rc" in
        10) return 0 ;;   # no committed image: not a word, the boot goes on
        11)
            # R exited 11 at the last boot and marked the image: not R
            # again (it would reboot into this boot and ask again, at
            # every boot); kept, and the mark cleared: a later boot may try.
            cause=${out##*"$nl"}
            say "${cause#khib-restore: }"
            clear_locked "$1"
            ;;
        0)
            mib=${out##*"$nl"}
            case "$mib" in
                '' | *[!0-9]*) why="khib-restore --resumable named no window ($out)" ;;
                *) restore_kernel "$1" "$mib" ;;
            esac
            say "not resuming the hibernated system on $1: $why; the boot goes on, and the image is retired"
            retire "$1" "a normal boot started: the restore kernel could not be started"
            ;;
        *)
            # khib-restore's last line says why ("khib-restore: not restoring DEV: ...").
            cause=${out##*"$nl"}
            say "not resuming the hibernated system on $1: ${cause#khib-restore: } (khib-restore --resumable exit $rc); the boot goes on, and the image is retired"
            retire "$1" "a normal boot started: the image was refused (khib-restore --resumable exit $rc)"
            ;;
    esac
}

# The ordinary boot runs this at every boot: no subshell on its way.
wait_s=5
! khib_get khib.wait || wait_s=$khib_value
case "$wait_s" in '' | *[!0-9]*) say "khib.wait=$wait_s is not a number of seconds: waiting 5"; wait_s=5 ;; esac

khib_offset=
if khib_get khib.image; then
    image=$khib_value
    ! khib_get khib.offset || khib_offset=$khib_value
elif conf_value target-offset; then
    # An image file (khib setup-target): its device and first block.
    khib_offset=$value
    conf_value target-device || { say "target-offset= without target-device= in $conf: an image file, if any, could neither be resumed nor retired (fix: khib setup-target again, then rebuild the initramfs)"; exit 0; }
    image=$value
elif conf_value target; then
    image=$value
else
    exit 0
fi
case "$khib_offset" in *[!0-9]*) say "khib.offset=$khib_offset is not a byte offset: not looking for an image"; exit 0 ;; esac
if ! confined || ! khib_get khib.image; then
    ordinary "$image"
    exit 0
fi

# The confined restore entry: this kernel is R.
khib_rc=0   # khib-restore's exit status, once it ran
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
    # (The second boot is not confined; its check finds nothing to resume.)
    # A locked image is kept (khib.locked=1 on the second boot's command
    # line): the owner may try again on a later boot.
    [ "$khib_rc" = 11 ] || retire "$image" "a normal boot started after $khib_why (khib-restore exit $khib_rc)"
fi
full_memory
exit 0
