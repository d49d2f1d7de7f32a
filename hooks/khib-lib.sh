# khib-lib.sh: the restore step in shell, shared by the khib initramfs's
# /init (initramfs/init) and the distribution hooks' khib-resume.sh
# (initramfs-tools, dracut, mkinitcpio; docs/hooks.md).  Sourced, never run;
# installed as /usr/lib/khib/khib-lib.sh beside khib-resume.sh, and copied
# there into every initramfs that runs either.  POSIX sh (busybox, dash,
# bash), safe under set -eu; the caller turns globbing off (set -f) before
# it calls khib_arg, so that a word such as "*" stays itself.
# shellcheck shell=sh

# khib_cmdline FILE: read the kernel command line (one line) into
# $khib_cmdline; fails when FILE holds none.
khib_cmdline() {
    khib_cmdline=
    read -r khib_cmdline < "$1" || [ -n "$khib_cmdline" ]
}

# khib_get NAME: set $khib_value to the value of the last NAME= word of
# $khib_cmdline (as the kernel itself takes a parameter given twice); fail
# if none.  No subshell: an ordinary boot runs it at every boot.
khib_get() {
    khib_found=1
    for khib_word in $khib_cmdline; do
        case "$khib_word" in "$1="*) khib_value=${khib_word#*=}; khib_found=0 ;; esac
    done
    return "$khib_found"
}

# khib_arg NAME: print what khib_get finds; fail if none.
khib_arg() {
    khib_get "$1" && printf '%s\n' "$khib_value"
}

# khib_wait_for DEV SECONDS: wait for a block device that may appear a
# moment late (a regular file is accepted too: tests use one as the image).
khib_wait_for() {
    khib_tries=0
    khib_limit=$(($2 * 10))
    while [ ! -b "$1" ] && [ ! -f "$1" ] && [ "$khib_tries" -lt "$khib_limit" ]; do
        sleep 0.1 2>/dev/null || { sleep 1; khib_tries=$((khib_tries + 9)); }
        khib_tries=$((khib_tries + 1))
    done
    [ -b "$1" ] || [ -f "$1" ]
}

# $khib_offset: when set, the image lives in a file on DEV's file system,
# its first block at that byte of DEV (khib.offset=, target-offset= of
# khib.conf: docs/file-target.md); every khib-restore call below passes it.

# khib_abandon RESTORE DEV REASON: mark a committed image on DEV ABANDONED
# (the boot goes on normally: it must never resume afterwards).
# khib-restore prints one line when it did, nothing when there was none
# (exit 10).  Fails otherwise, with its exit status in $khib_arc.
khib_abandon() {
    khib_arc=0
    "$1" --image "$2" ${khib_offset:+"--offset=$khib_offset"} --abandon "$3" >&2 || khib_arc=$?
    [ "$khib_arc" = 0 ] || [ "$khib_arc" = 10 ]
}

# khib_restore RESTORE DEV: restore the image on DEV and jump into the saved
# system; returns only when that did not happen, with khib-restore's exit
# status in $khib_rc and what happened in $khib_why.  An encrypted image's
# passphrase is asked on the console (docs/encryption.md): the key header
# from khib.keyfile= when the command line has it (a file or a device,
# waited for), each try within khib.passphrase_timeout= seconds; with
# khib.encrypted=1 an image in clear is refused.  khib.poison=1 (tests only)
# poisons the pages the image left out as free first (--poison-excluded).
# shellcheck disable=SC2034 # khib_why is the caller's
khib_restore() {
    khib_rc=0
    set -- "$1" --image "$2" ${khib_offset:+"--offset=$khib_offset"} --jump
    if khib_keyfile=$(khib_arg khib.keyfile); then
        khib_wait_for "$khib_keyfile" 5 || echo "khib: the key file $khib_keyfile is not there (yet)" >&2
        set -- "$@" --key-file "$khib_keyfile"
    fi
    if khib_timeout=$(khib_arg khib.passphrase_timeout); then
        set -- "$@" --passphrase-timeout "$khib_timeout"
    fi
    [ "$(khib_arg khib.encrypted || true)" = 1 ] && set -- "$@" --require-encryption
    [ "$(khib_arg khib.poison || true)" = 1 ] && set -- "$@" --poison-excluded
    "$@" >&2 || khib_rc=$?
    case "$khib_rc" in
        10) khib_why="the restore found no committed image" ;;
        0) khib_why="the restore returned without jumping" ;;
        2) khib_why="the restore failed (image unreadable or damaged)" ;;
        3) khib_why="the restore refused it" ;;
        4) khib_why="the restore could not write memory" ;;
        5) khib_why="the jump into the saved system failed" ;;
        11) khib_why="the encrypted image stayed locked (no right passphrase)" ;;
        *) khib_why="the restore did not jump" ;;
    esac
}
