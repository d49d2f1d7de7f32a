# shellcheck shell=sh
# Helpers of the disk-safety guest scenarios (tests/qemu/disk-safety.sh),
# sourced by each ds-*.sh.  Disks of the per-type guests: vda the image
# target, vdb ext4, vdc xfs, vdd btrfs, vde vfat, vdf minix (a type khib has
# no check for), vdg a small ext4 image for a loop device.
# shellcheck disable=SC2034 # used by the ds-*.sh scenarios
DS_TYPES="ext4 xfs btrfs vfat"
DS_OUT=/tmp/ds.out

ds_dev() {   # ds_dev TYPE: the disk holding TYPE's file system
    case "$1" in
        ext4) echo /dev/vdb ;;
        xfs) echo /dev/vdc ;;
        btrfs) echo /dev/vdd ;;
        vfat) echo /dev/vde ;;
        minix) echo /dev/vdf ;;
        *) echo "/dev/unknown-$1" ;;
    esac
}

ds_arg() {   # ds_arg NAME: the value of NAME= on the kernel command line
    read -r ds_cmdline < /proc/cmdline
    for ds_word in $ds_cmdline; do
        case "$ds_word" in "$1="*) echo "${ds_word#*=}"; return 0 ;; esac
    done
    return 1
}

# ds_run COMMAND...: run COMMAND, its output (both streams) in $DS_OUT and
# on the console, its exit status in DS_RC.
ds_run() {
    "$@" > "$DS_OUT" 2>&1 && DS_RC=0 || DS_RC=$?
    sed 's/^/    | /' "$DS_OUT"
}

ds_output() { tr '\n' ' ' < "$DS_OUT" | cut -c1-240; }   # for a FAIL line

# ds_expect WHAT STATUS TEXT...: the last ds_run exited STATUS and its output
# holds every TEXT (fixed strings).
ds_expect() {
    ds_what=$1 ds_want=$2
    shift 2
    ds_missing=
    for ds_text in "$@"; do
        grep -qF -- "$ds_text" "$DS_OUT" || ds_missing="$ds_missing '$ds_text'"
    done
    if [ "$DS_RC" = "$ds_want" ] && [ -z "$ds_missing" ]; then
        result PASS "$ds_what: exit $DS_RC${1:+, says '$1'}"
    else
        result FAIL "$ds_what: exit $DS_RC (want $ds_want)${ds_missing:+, missing$ds_missing}"
    fi
}

# ds_line WHAT PREFIX WORD: a line of the last ds_run's output starts with
# PREFIX and holds WORD.
ds_line() {
    if grep -F -- "$2" "$DS_OUT" | grep -qF -- "$3"; then
        result PASS "$1: '$(grep -F -m 1 -- "$2" "$DS_OUT")'"
    else
        result FAIL "$1: no line '$2 ... $3'"
    fi
}

# khib check with the test guest's files; target /dev/vda unless overridden.
ds_check() {
    khib check --target /dev/vda --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img "$@"
}

ds_state() {   # ds_state DEV: the image state khib-restore --info reads, or "none"
    ds_s=$(khib-restore --image "$1" --info 2>/dev/null | sed -n 's/^state: *//p')
    echo "${ds_s:-none}"
}

no_committed_image() {   # no_committed_image DEV
    ds_s=$(ds_state "$1")
    echo "$1: image state $ds_s"
    [ "$ds_s" != COMMITTED ]
}

workload_alive() { data_intact && pattern_intact && counter_advancing; }

# A guest booted from the ext4 root disk (no initramfs): /tmp and /run on
# tmpfs, as on a real system, so that only the scenario writes to the root.
ds_root_setup() {
    mount -t tmpfs tmpfs /tmp
    mount -t tmpfs tmpfs /run
}

root_rw() { grep -q '^/dev/root / ext4 rw[,]' /proc/mounts || { grep ' / ' /proc/mounts; return 1; }; }

# ds_write_root FILE: write FILE on the root file system and sync.
ds_write_root() { echo "written by $(ds_arg khibtest.scenario) at $(date)" > "$1" && sync; }
