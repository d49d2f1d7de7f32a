#!/bin/sh
# Host tests of hooks/: khib-resume.sh's decisions (with a fake command line
# and stub khib-restore and kexec programs, under sh and busybox sh), its
# retiring of the image with the real build/khib-restore on image files, the
# boot-time wrappers of the three generators, the build hooks of
# initramfs-tools, dracut and mkinitcpio (with stub copy/install functions),
# initramfs/init's normal-boot paths (in a chroot, as root only),
# systemd/khib-retire.service, and a shellcheck of every file.  Prints
# "PASS name" or "FAIL: name" per check and ends with "N passed, N failed";
# exits non-zero on any failure.  Nothing here needs a block device or
# touches the system; the real khib-restore only ever writes image and
# memory files here (never /dev/mem, never a jump).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
hooks=$root/hooks
work=$(mktemp -d "${TMPDIR:-/tmp}/khib-hooks.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/lib/check.sh
# shellcheck disable=SC1091 # followed by shellcheck -x
. "$root/tests/lib/check.sh"
log=$work/log
KHIB_TEST_LOG=$log
export KHIB_TEST_LOG


# --- stubs -------------------------------------------------------------------
# Each stub logs its arguments one per bracket, so that an argument with
# spaces (the command line) shows as one.  "jump" kills the caller, as a
# real jump or kexec -e leaves nothing behind to return to.
mkdir -p "$work/bin" "$work/pathbin"
# khib-restore --abandon exits STUB_ABANDON (default 10: nothing to retire).
cat > "$work/bin/khib-restore" <<'EOF'
#!/bin/sh
{ printf 'khib-restore'; for a; do printf ' [%s]' "$a"; done; echo; } >> "$KHIB_TEST_LOG"
# An image in a file: --offset=N after the device; the rest as without.
case "${3:-}" in --offset=*) a1=$1 a2=$2; shift 3; set -- "$a1" "$a2" "$@" ;; esac
if [ "${3:-}" = --abandon ]; then
    case "${STUB_ABANDON:-10}" in
        0) echo "khib-restore: image 00000000-stub on $2 abandoned: $4; it will never be restored" >&2 ;;
        10) ;;
        *) echo "khib-restore: cannot abandon the image on $2: stub says exit $STUB_ABANDON" >&2 ;;
    esac
    exit "${STUB_ABANDON:-10}"
fi
if [ "${3:-}" = --resumable ]; then
    case "${STUB_PROBE:-10}" in
        0) echo "${STUB_WINDOW:-192}" ;;
        10) ;;
        *) echo "khib-restore: not restoring $2: stub says exit $STUB_PROBE" >&2 ;;
    esac
    exit "${STUB_PROBE:-10}"
fi
[ "${STUB_RESTORE:-10}" = jump ] && { kill -KILL "$PPID"; exit 99; }
echo "khib-restore: stub says exit ${STUB_RESTORE:-10}" >&2
exit "${STUB_RESTORE:-10}"
EOF
cat > "$work/bin/kexec" <<'EOF'
#!/bin/sh
{ printf 'kexec'; for a; do printf ' [%s]' "$a"; done; echo; } >> "$KHIB_TEST_LOG"
[ "$1" != -c ] || shift
case "$1" in
    -l) exit "${STUB_KEXEC_L:-0}" ;;
    -e) [ "${STUB_KEXEC_E:-jump}" = jump ] && { kill -KILL "$PPID"; exit 99; }
        exit "$STUB_KEXEC_E" ;;
esac
exit 0
EOF
cp "$work/bin/kexec" "$work/pathbin/kexec"
cat > "$work/bin/resume-fails" <<'EOF'
#!/bin/sh
echo "resume-fails ran" >> "$KHIB_TEST_LOG"
exit 3
EOF
chmod 755 "$work/bin/"* "$work/pathbin/kexec"
: > "$work/image"
: > "$work/vmlinuz"
: > "$work/initrd"
: > "$work/rinitrd"

# --- khib-resume.sh ----------------------------------------------------------
# resume SHELL CMDLINE [VAR=VALUE...]: run khib-resume.sh under SHELL ("sh"
# or "busybox sh") with the command line CMDLINE, the stubs, no khib.conf
# (unless KHIB_CONF= is among the extra environment), and the extra
# environment; sets $rc and $out (stdout and stderr), empties the log first.
resume() {
    shell=$1
    printf '%s\n' "$2" > "$work/cmdline"
    shift 2
    : > "$log"
    rc=0
    # $shell is split on purpose ("busybox sh").
    # shellcheck disable=SC2086
    # The group's 2>&1 also catches the shell's own "Killed" after a jump.
    out=$({ cd "$work" && env KHIB_CMDLINE="$work/cmdline" KHIB_RESTORE="$work/bin/khib-restore" \
        KHIB_KEXEC="$work/bin/kexec" KHIB_CONF="$work/no-conf" KHIB_RINITRD="$work/rinitrd" "$@" \
        $shell "$hooks/khib-resume.sh"; } 2>&1) || rc=$?
}

# expect NAME RC LOG [PATTERN...]: exit status RC, the log exactly LOG, and
# the output matching every extended regex PATTERN.
expect() {
    name=$1 want_rc=$2 want_log=$3
    shift 3
    got_log=$(cat "$log")
    if [ "$rc" != "$want_rc" ]; then
        fail "$name" "exit status $rc, expected $want_rc" "$out"
        return
    fi
    if [ "$got_log" != "$want_log" ]; then
        fail "$name" "calls:" "$got_log" "expected:" "$want_log"
        return
    fi
    for pattern; do
        if ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
            fail "$name" "output does not match /$pattern/:" "$out"
            return
        fi
    done
    pass "$name"
}

shells="sh"
if command -v busybox >/dev/null 2>&1; then shells="sh busybox"; fi
confine="nokaslr memmap=exactmap memmap=640K@0 memmap=511M@1M"
files="khib.kernel=$work/vmlinuz khib.initrd=$work/initrd"
base="BOOT_IMAGE=/boot/vmlinuz-6.12 root=UUID=0b1c ro quiet"
img="khib.image=$work/image khib.wait=0"
restored="khib-restore [--image] [$work/image] [--jump]"
# retired WHY RC [DEV]: the abandon call after a restore that exited RC
retired() { echo "khib-restore [--image] [${3:-$work/image}] [--abandon] [a normal boot started after $1 (khib-restore exit $2)]"; }
noimage=$(retired "the restore found no committed image" 10)
probe="khib-restore [--image] [$work/image] [--resumable]"
rwords="nokaslr memmap=exactmap memmap=640K@0 memmap=191M@1M khib.role=restore khib.image=$work/image khib.normal=reboot"
# unstarted: the abandon call when R could not be started; refused RC: when
# the check refused the image with RC.
unstarted() { echo "khib-restore [--image] [$work/image] [--abandon] [a normal boot started: the restore kernel could not be started]"; }
refused() { echo "khib-restore [--image] [$work/image] [--abandon] [a normal boot started: the image was refused (khib-restore --resumable exit $1)]"; }
printf 'target=%s\n' "$work/image" > "$work/khib.conf"
kexec_l="kexec [-l] [$work/vmlinuz] [--initrd=$work/initrd] [--command-line=$base]"

for sh in $shells; do
    t="$sh:"
    [ "$sh" = busybox ] && sh="busybox sh"

    resume "$sh" "$base $confine $files"
    expect "$t no khib.image, no khib.conf: nothing runs, no output" 0 ""
    [ -z "$out" ] || fail "$t no khib.image, no khib.conf: silent" "$out"

    # --- an ordinary boot: the check, then the restore kernel or the retiring -
    resume "$sh" "$base" KHIB_CONF="$work/khib.conf"
    expect "$t ordinary boot, khib.conf target=, no committed image (10): the check only" 0 "$probe"
    if [ -z "$out" ]; then pass "$t ordinary boot, no committed image: silent"
    else fail "$t ordinary boot, no committed image: silent" "$out"; fi

    resume "$sh" "$base console=ttyS0,115200 loglevel=7 panic=-1 quiet $files" KHIB_CONF="$work/khib.conf" STUB_PROBE=0
    expect "$t ordinary boot, a resumable image: R loaded confined to the window (kexec -c -l, mem-max), then kexec -e" 137 \
        "$probe
kexec [-c] [-l] [$work/vmlinuz] [--initrd=$work/rinitrd] [--mem-min=0] [--mem-max=201326591] [--command-line=$rwords console=ttyS0,115200 loglevel=7 panic=-1]
kexec [-e]" "^khib: resuming the hibernated system from $work/image: starting the restore kernel in khib's window of 192 MiB"

    printf 'target=%s\nrestore-append=khib.wait=10 x=$y\n' "$work/image" > "$work/conf-append"
    resume "$sh" "$base $files" KHIB_CONF="$work/conf-append" STUB_PROBE=0 STUB_WINDOW=512
    expect "$t ordinary boot: the image's window (512 MiB), and restore-append= of khib.conf" 137 \
        "$probe
kexec [-c] [-l] [$work/vmlinuz] [--initrd=$work/rinitrd] [--mem-min=0] [--mem-max=536870911] [--command-line=nokaslr memmap=exactmap memmap=640K@0 memmap=511M@1M khib.role=restore khib.image=$work/image khib.normal=reboot khib.wait=10 x=\$y]
kexec [-e]"

    # An image in a file (docs/file-target.md): device and offset from khib.conf.
    printf 'target=/var/lib/khib/image\ntarget-device=%s\ntarget-offset=1052672\n' "$work/image" > "$work/conf-file"
    resume "$sh" "$base $files" KHIB_CONF="$work/conf-file" STUB_PROBE=0
    expect "$t ordinary boot, an image file: the check and R at target-device= and target-offset=" 137 \
        "khib-restore [--image] [$work/image] [--offset=1052672] [--resumable]
kexec [-c] [-l] [$work/vmlinuz] [--initrd=$work/rinitrd] [--mem-min=0] [--mem-max=201326591] [--command-line=nokaslr memmap=exactmap memmap=640K@0 memmap=191M@1M khib.role=restore khib.image=$work/image khib.offset=1052672 khib.normal=reboot]
kexec [-e]"
    resume "$sh" "$base $files" KHIB_CONF="$work/conf-file" STUB_PROBE=3 STUB_ABANDON=0
    expect "$t ordinary boot, an image file refused: retired at its offset" 0 \
        "khib-restore [--image] [$work/image] [--offset=1052672] [--resumable]
khib-restore [--image] [$work/image] [--offset=1052672] [--abandon] [a normal boot started: the image was refused (khib-restore --resumable exit 3)]"
    resume "$sh" "$base $confine $img khib.offset=1052672" STUB_RESTORE=3 STUB_ABANDON=0 KHIB_KEXEC="$work/no-kexec"
    expect "$t confined entry, khib.offset=: restore and retire at the offset" 0 \
        "khib-restore [--image] [$work/image] [--offset=1052672] [--jump]
khib-restore [--image] [$work/image] [--offset=1052672] [--abandon] [a normal boot started after the restore refused it (khib-restore exit 3)]"
    printf 'target=/var/lib/khib/image\ntarget-offset=1052672\n' > "$work/conf-nodev"
    resume "$sh" "$base $files" KHIB_CONF="$work/conf-nodev" STUB_PROBE=0
    expect "$t target-offset= without target-device=: nothing, one line" 0 "" \
        "target-offset= without target-device="

    resume "$sh" "$base $confine $files" KHIB_CONF="$work/khib.conf" STUB_PROBE=0
    expect "$t confined, no khib.image=: an ordinary boot too (the check, then R)" 137 "$probe
kexec [-c] [-l] [$work/vmlinuz] [--initrd=$work/rinitrd] [--mem-min=0] [--mem-max=201326591] [--command-line=$rwords]
kexec [-e]"

    resume "$sh" "$base $files" KHIB_CONF="$work/khib.conf" STUB_PROBE=0 STUB_KEXEC_L=1 STUB_ABANDON=0
    expect "$t ordinary boot, kexec -l of R fails: one line, the image retired, the boot goes on" 0 "$probe
kexec [-c] [-l] [$work/vmlinuz] [--initrd=$work/rinitrd] [--mem-min=0] [--mem-max=201326591] [--command-line=$rwords]
$(unstarted)" "^khib: not resuming the hibernated system on $work/image: kexec -l of the restore kernel failed \(exit 1, message above\); the boot goes on, and the image is retired$" \
        "^khib-restore: image 00000000-stub on $work/image abandoned: a normal boot started: the restore kernel could not be started"

    resume "$sh" "$base $files" KHIB_CONF="$work/khib.conf" STUB_PROBE=0 STUB_KEXEC_E=1
    expect "$t ordinary boot, kexec -e of R returns: unloaded, one line, retired, the boot goes on" 0 "$probe
kexec [-c] [-l] [$work/vmlinuz] [--initrd=$work/rinitrd] [--mem-min=0] [--mem-max=201326591] [--command-line=$rwords]
kexec [-e]
kexec [-u]
$(unstarted)" "^khib: not resuming the hibernated system on $work/image: kexec -e of the restore kernel returned"

    resume "$sh" "$base $files" KHIB_CONF="$work/khib.conf" STUB_PROBE=0 KHIB_RINITRD="$work/no-rinitrd"
    expect "$t ordinary boot, R's initramfs missing: no kexec, one line naming it, retired" 0 "$probe
$(unstarted)" "^khib: not resuming the hibernated system on $work/image: $work/no-rinitrd is missing from this initramfs \(fix: rebuild the initramfs"

    resume "$sh" "$base $files" KHIB_CONF="$work/khib.conf" STUB_PROBE=0 KHIB_KEXEC="$work/no-kexec"
    expect "$t ordinary boot, kexec missing: one line, retired" 0 "$probe
$(unstarted)" "^khib: not resuming the hibernated system on $work/image: kexec is not in this initramfs"

    resume "$sh" "$base $files" KHIB_CONF="$work/khib.conf" STUB_PROBE=0 STUB_WINDOW=lots
    expect "$t ordinary boot, the check names no window: not resumed, retired" 0 "$probe
$(unstarted)" "^khib: not resuming the hibernated system on $work/image: khib-restore --resumable named no window"

    for code in 3 2 1; do
        resume "$sh" "$base $files" KHIB_CONF="$work/khib.conf" STUB_PROBE="$code" STUB_ABANDON=0
        expect "$t ordinary boot, the check refuses (exit $code): one line why, retired, no kexec, exit 0" 0 "$probe
$(refused "$code")" "^khib: not resuming the hibernated system on $work/image: not restoring $work/image: stub says exit $code \(khib-restore --resumable exit $code\); the boot goes on, and the image is retired$" \
            "^khib-restore: image 00000000-stub on $work/image abandoned: a normal boot started: the image was refused \(khib-restore --resumable exit $code\); it will never be restored$"
        n=$(printf '%s\n' "$out" | wc -l)
        if [ "$n" = 2 ]; then pass "$t refused (exit $code): the hook's line and the retiring's, nothing else"
        else fail "$t refused (exit $code): the hook's line and the retiring's, nothing else" "$out"; fi
    done

    resume "$sh" "$base" KHIB_CONF="$work/khib.conf" STUB_PROBE=3 STUB_ABANDON=2
    expect "$t ordinary boot, refused, the image cannot be written (2): one more line, exit 0" 0 "$probe
$(refused 3)" "^khib: the image on $work/image, if any, could not be retired \(khib-restore --abandon exit 2, cause above\).*file system checks" \
        '^khib-restore: cannot abandon'

    for word in noresume khib.noresume; do
        resume "$sh" "$base $word $files" KHIB_CONF="$work/khib.conf" STUB_PROBE=0 STUB_ABANDON=0
        expect "$t ordinary boot with $word: no check, no kexec: retired, the boot goes on" 0 \
            "khib-restore [--image] [$work/image] [--abandon] [a normal boot started with noresume on the command line]" \
            "^khib-restore: image 00000000-stub on $work/image abandoned: a normal boot started with noresume on the command line"
    done

    printf 'target=%s\n' "$work/no-device" > "$work/conf-missing"
    resume "$sh" "$base khib.wait=0" KHIB_CONF="$work/conf-missing"
    expect "$t ordinary boot, target missing: no call, one line: neither resumed nor retired, why" 0 "" \
        "^khib: image device $work/no-device not found after 0 s: an image on it, if any, could neither be resumed nor retired.*target= in /etc/khib.conf"

    resume "$sh" "$base" KHIB_CONF="$work/khib.conf" KHIB_RESTORE="$work/no-restore"
    expect "$t ordinary boot, khib-restore missing: one line" 0 "" \
        "^khib: $work/no-restore is missing from this initramfs: an image on $work/image, if any, could neither be resumed nor retired"

    rm -f "$work/late"
    printf 'target=%s\n' "$work/late" > "$work/conf-late"
    (sleep 0.3 && : > "$work/late") &
    resume "$sh" "$base khib.wait=3" KHIB_CONF="$work/conf-late"
    wait
    expect "$t ordinary boot: waits for a target that appears late" 0 \
        "khib-restore [--image] [$work/late] [--resumable]"

    # khib.conf as khib's own parser reads it: comments, blanks, last wins.
    printf '%s\n' "# target=$work/commented" "window=512M" "   # target=$work/indented-comment" \
        "" "target=$work/first" "  target =   $work/image" "kernel=/boot/vmlinuz" > "$work/conf-parse"
    printf 'level=3\ntarget=%s' "$work/image" > "$work/conf-nonl"
    printf '%s\n' "# target=$work/image" "window=512M" "targets=$work/image" "target=" > "$work/conf-none"
    resume "$sh" "$base" KHIB_CONF="$work/conf-parse"
    expect "$t khib.conf: # comments and other keys skipped, blanks around the key and before the value, the last target= wins" 0 \
        "$probe"
    resume "$sh" "$base" KHIB_CONF="$work/conf-nonl"
    expect "$t khib.conf: a last line without a newline" 0 "$probe"
    resume "$sh" "$base" KHIB_CONF="$work/conf-none"
    expect "$t khib.conf without a target (commented, other key, empty): nothing, silent" 0 ""
    [ -z "$out" ] || fail "$t khib.conf without a target: silent" "$out"
    resume "$sh" "$base" KHIB_CONF="$work"
    expect "$t khib.conf not a file: nothing" 0 ""

    printf 'target=%s\n' "$work/other" > "$work/conf-other"
    resume "$sh" "$base khib.image=$work/image khib.wait=0" KHIB_CONF="$work/conf-other"
    expect "$t ordinary boot: khib.image= wins over target= of khib.conf" 0 "$probe"

    # --- the restore path ---------------------------------------------------
    resume "$sh" "$base $confine $img $files" STUB_RESTORE=jump
    expect "$t image restored: khib-restore --image DEV --jump, then nothing" 137 "$restored"

    resume "$sh" "$base $confine $img $files" STUB_RESTORE=0
    expect "$t khib-restore returns 0 after --jump: an error, retired, boot goes on with full memory" 137 \
        "$restored
$(retired "the restore returned without jumping" 0)
$kexec_l
kexec [-e]" '^khib: khib-restore returned without jumping' 'booting normally'

    resume "$sh" "$base $confine $img $files"
    expect "$t no image (10), confined: abandon, then kexec -l with the cleaned command line, kexec -e" 137 \
        "$restored
$noimage
$kexec_l
kexec [-e]" "^khib: no committed image on $work/image: booting normally" \
        '^khib: booting this kernel again with full memory'

    resume "$sh" "BOOT_IMAGE=/vmlinuz nokaslr root=/dev/vda1 retain_initrd nokaslr memmap=exactmap memmap=640K@0 memmap=511M@1M console=ttyS0,115200 * a?b khib.role=restore $img $files nokaslr"
    expect "$t cleaning: khib.*, memmap=, retain_initrd and khib's nokaslr go; the user's nokaslr and globs stay" 137 \
        "$restored
$noimage
kexec [-l] [$work/vmlinuz] [--initrd=$work/initrd] [--command-line=BOOT_IMAGE=/vmlinuz nokaslr root=/dev/vda1 console=ttyS0,115200 * a?b nokaslr]
kexec [-e]"


    # Every exit of khib-restore that is not a jump: the image is retired
    # with the exit in the reason, before the full-memory kexec.
    for case in "2|the restore failed (image unreadable or damaged)" "3|the restore refused it" \
        "4|the restore could not write memory" "5|the jump into the saved system failed" \
        "1|the restore did not jump"; do
        code=${case%%|*} why=${case#*|}
        resume "$sh" "$base $confine $img $files" STUB_RESTORE="$code" STUB_ABANDON=0
        expect "$t restore exit $code: abandoned ($why), then the full-memory kexec" 137 \
            "$restored
$(retired "$why" "$code")
$kexec_l
kexec [-e]" "^khib: restore refused or failed \(khib-restore exit $code, cause above\): booting normally, so the image is retired" \
            "^khib-restore: stub says exit $code" \
            "^khib-restore: image 00000000-stub on $work/image abandoned: a normal boot started after .*\(khib-restore exit $code\); it will never be restored"
    done
    resume "$sh" "$base $confine $img $files" STUB_RESTORE=3
    # (khib-restore's own lines, and the test shell's "Killed" after kexec -e)
    if printf '%s\n' "$out" | grep -Ev '^(khib-restore: |Killed$)' | grep -qv '^khib: '; then
        fail "$t every message starts with khib:" "$out"
    else
        pass "$t every message starts with khib:"
    fi

    resume "$sh" "$base $confine $img $files" STUB_RESTORE=3 STUB_ABANDON=2
    expect "$t restore refused, abandon fails: one line, the boot goes on with full memory" 137 \
        "$restored
$(retired "the restore refused it" 3)
$kexec_l
kexec [-e]" "^khib: the image on $work/image, if any, could not be retired \(khib-restore --abandon exit 2"

    resume "$sh" "$base $confine $img $files" KHIB_CONF="$work/khib.conf"
    expect "$t confined, khib.image= and khib.conf: the command line's image is retired, once" 137 "$restored
$noimage
$kexec_l
kexec [-e]"
    resume "$sh" "$base $confine $img $files" KHIB_CONF="$work/conf-other"
    expect "$t confined: khib.image= wins over target= of khib.conf" 137 "$restored
$noimage
$kexec_l
kexec [-e]"

    resume "$sh" "$base $confine $img $files" STUB_KEXEC_L=1
    expect "$t kexec -l fails: one line, boot continues with small memory" 0 \
        "$restored
$noimage
$kexec_l" '^khib: cannot boot again with full memory: kexec -l .* failed \(exit 1.*continues with only'

    resume "$sh" "$base $confine $img $files" STUB_KEXEC_E=1
    expect "$t kexec -e returns: unloaded, one line, boot continues" 0 \
        "$restored
$noimage
$kexec_l
kexec [-e]
kexec [-u]" '^khib: cannot boot again with full memory: kexec -e returned \(exit 1'

    resume "$sh" "$base $confine $img $files" KHIB_KEXEC="$work/no-kexec"
    expect "$t kexec missing: one line, boot continues" 0 "$restored
$noimage" "^khib: cannot boot again with full memory: kexec is not in this initramfs \($work/no-kexec\).*kexec-tools"

    resume "$sh" "$base $confine khib.image=$work/no-device khib.wait=0 $files"
    expect "$t image device missing: no restore, clear message (not retired), boot goes on with full memory" 137 \
        "$kexec_l
kexec [-e]" "^khib: image device $work/no-device not found after 0 s: booting normally, and an image on it, if any, could not be retired.*khib.wait="

    resume "$sh" "$base $confine $img $files" KHIB_RESTORE="$work/no-restore" KHIB_KEXEC="$work/no-kexec"
    expect "$t khib-restore missing: clear message, boot continues" 0 "" \
        "^khib: $work/no-restore is missing from this initramfs: booting normally, and an image on $work/image, if any, could not be retired"

    resume "$sh" "$base $confine $img khib.kernel=$work/no-kernel khib.initrd=$work/initrd"
    expect "$t kernel image missing: names khib.kernel=, boot continues" 0 "$restored
$noimage" "^khib: cannot boot again with full memory: the kernel image $work/no-kernel is missing.*khib.kernel="

    resume "$sh" "$base $confine $img khib.kernel=$work/vmlinuz khib.initrd=$work/no-initrd"
    expect "$t initramfs missing: names retain_initrd, boot continues" 0 "$restored
$noimage" "^khib: cannot boot again with full memory: the initramfs $work/no-initrd is missing.*retain_initrd"

    resume "$sh" "$base $confine $img"
    if grep -q "^kexec \[-l\] \[/usr/lib/khib/vmlinuz\] \[--initrd=/sys/firmware/initrd\]" "$log" ||
        printf '%s\n' "$out" | grep -Eq '/usr/lib/khib/vmlinuz is missing|/sys/firmware/initrd is missing'; then
        pass "$t default paths /usr/lib/khib/vmlinuz and /sys/firmware/initrd"
    else
        fail "$t default paths /usr/lib/khib/vmlinuz and /sys/firmware/initrd" "$out" "$(cat "$log")"
    fi

    rm -f "$work/late"
    (sleep 0.3 && : > "$work/late") &
    resume "$sh" "$base $confine khib.image=$work/late khib.wait=3" STUB_RESTORE=10 KHIB_KEXEC="$work/no-kexec"
    wait
    expect "$t waits for a device that appears late" 0 "khib-restore [--image] [$work/late] [--jump]
$(retired "the restore found no committed image" 10 "$work/late")"

    resume "$sh" "$base $confine khib.image=$work/image khib.wait=soon" KHIB_KEXEC="$work/no-kexec"
    expect "$t khib.wait= not a number: says so, waits the default" 0 "$restored
$noimage" '^khib: khib.wait=soon is not a number'
done

# --- khib-resume.sh with the real khib-restore -------------------------------
# Committed images made by khib-gencore and khib-save.  A wrapper runs the
# real khib-restore; it turns --jump into a restore into a memory file
# (--memory-file: never /dev/mem, never a jump), with RESTORE_MEMMAP as the
# firmware memory map to check when set (an empty one is refused: exit 3).
GEN=$root/build/khib-gencore
SAVE=$root/build/khib-save
REAL=$root/build/khib-restore
TOOL=$root/build/tests/tool
if [ -x "$GEN" ] && [ -x "$SAVE" ] && [ -x "$REAL" ]; then
    cat > "$work/bin/real-restore" <<WRAPPER
#!/bin/sh
{ printf 'khib-restore'; for a; do printf ' [%s]' "\$a"; done; echo; } >> "\$KHIB_TEST_LOG"
if [ "\${3:-}" = --jump ]; then
    set -- --image "\$2" --memory-file "$work/real.mem" --quiet \${RESTORE_MEMMAP:+--memmap-dir "\$RESTORE_MEMMAP"}
fi
exec "$REAL" "\$@"
WRAPPER
    chmod 755 "$work/bin/real-restore"
    mkdir -p "$work/empty-memmap"
    "$GEN" --out "$work/real.core" --size 8M --seed 1 --note >/dev/null
    commit() {   # commit IMG: a fresh committed image in IMG
        rm -f "$1" "$work/real.mem"
        "$SAVE" --core "$work/real.core" --target "$1" --quiet >/dev/null 2>&1 || true
    }
    state() { "$REAL" --image "$1" --info 2>/dev/null | sed -n 's/^state: *//p'; }
    abandoned_why() { "$REAL" --image "$1" --info 2>/dev/null | sed -n 's/^abandoned: *[^(]*(\(.*\))$/\1/p'; }
    # real NAME STATE REASON PATTERN: the run exited 0, real.img is in STATE
    # with the abandon REASON ("" for none), the output matches PATTERN.
    real() {
        got_state=$(state "$work/real.img")
        got_why=$(abandoned_why "$work/real.img")
        if [ "$rc" != 0 ]; then
            fail "$1" "exit $rc" "$out"
        elif [ "$got_state" != "$2" ] || [ "$got_why" != "$3" ]; then
            fail "$1" "state $got_state ($got_why), expected $2 ($3)" "$out" "$(cat "$log")"
        elif ! printf '%s\n' "$out" | grep -Eq -- "$4"; then
            fail "$1" "output does not match /$4/:" "$out"
        else
            pass "$1"
        fi
    }
    printf 'target=%s\n' "$work/real.img" > "$work/real.conf"
    realimg="khib.image=$work/real.img khib.wait=0"
    r="real khib-restore:"

    commit "$work/real.img"
    if [ "$(state "$work/real.img")" = COMMITTED ]; then
        pass "$r a committed image to start with"
    else
        fail "$r a committed image to start with" "state: $(state "$work/real.img")"
    fi
    refused_why="a normal boot started: the image was refused (khib-restore --resumable exit 3)"
    refused_re="a normal boot started: the image was refused \\(khib-restore --resumable exit 3\\)"
    resume sh "$base" KHIB_CONF="$work/real.conf" KHIB_RESTORE="$REAL"
    real "$r ordinary boot: an image that cannot resume here (its window) is refused and ABANDONED, with the reason" \
        ABANDONED "$refused_why" \
        "^khib: not resuming the hibernated system on $work/real.img: not restoring $work/real.img: its window .* \(khib-restore --resumable exit 3\); the boot goes on, and the image is retired$"
    if [ "$(printf '%s\n' "$out" | wc -l)" = 2 ] &&
        printf '%s\n' "$out" | grep -Eq "^khib-restore: image [0-9a-f-]{36} on $work/real.img abandoned: $refused_re; it will never be restored$"; then
        pass "$r ordinary boot, refused: the hook's line why, and the retiring's"
    else fail "$r ordinary boot, refused: the hook's line why, and the retiring's" "$out"; fi
    resume sh "$base" KHIB_CONF="$work/real.conf" KHIB_RESTORE="$REAL"
    real "$r the next ordinary boot finds nothing to resume or retire" ABANDONED "$refused_why" '^$'
    if [ -z "$out" ]; then pass "$r the next ordinary boot: silent"
    else fail "$r the next ordinary boot: silent" "$out"; fi
    resume sh "$base $confine $realimg" KHIB_RESTORE="$work/bin/real-restore" KHIB_KEXEC="$work/no-kexec"
    real "$r a restore boot after it: refused as abandoned (10), the reason kept" ABANDONED "$refused_why" \
        "^khib-restore: image [0-9a-f-]{36} on $work/real.img was abandoned on .* \($refused_re\); not restoring it"
    if printf '%s\n' "$out" | grep -q "^khib: no committed image on $work/real.img: booting normally"; then
        pass "$r abandoned: the hook says no committed image"
    else
        fail "$r abandoned: the hook says no committed image" "$out"
    fi

    # An image saved with a 64 MiB window, its memory map digest that of a
    # fake firmware map, its jump-back entry inside its memory: with that
    # map (the wrapper's --memmap-dir) the check passes and R is loaded.
    if [ -x "$TOOL" ]; then
        mkdir -p "$work/fake-memmap/0"
        printf '0x0\n' > "$work/fake-memmap/0/start"
        printf '0x%x\n' $((1 << 30)) > "$work/fake-memmap/0/end"
        printf 'System RAM\n' > "$work/fake-memmap/0/type"
        "$GEN" --out "$work/real64.core" --size 8M --seed 2 --note --window 64M >/dev/null
        rm -f "$work/real.img"
        "$SAVE" --core "$work/real64.core" --target "$work/real.img" --quiet >/dev/null 2>&1 || true
        "$TOOL" sb-set "$work/real.img" memmap_digest "$("$TOOL" memmap-digest "$work/fake-memmap")" >/dev/null &&
            "$TOOL" sb-set "$work/real.img" jump_back_entry 0x4000000 >/dev/null
        cat > "$work/bin/real-probe" <<WRAPPER
#!/bin/sh
{ printf 'khib-restore'; for a; do printf ' [%s]' "\$a"; done; echo; } >> "\$KHIB_TEST_LOG"
exec "$REAL" "\$@" --memmap-dir "$work/fake-memmap"
WRAPPER
        chmod 755 "$work/bin/real-probe"
        resume sh "$base console=ttyS0 $files" KHIB_CONF="$work/real.conf" KHIB_RESTORE="$work/bin/real-probe"
        expect "$r ordinary boot, a resumable image: R loaded confined to the image's 64 MiB window" 137 \
            "khib-restore [--image] [$work/real.img] [--resumable]
kexec [-c] [-l] [$work/vmlinuz] [--initrd=$work/rinitrd] [--mem-min=0] [--mem-max=67108863] [--command-line=nokaslr memmap=exactmap memmap=640K@0 memmap=63M@1M khib.role=restore khib.image=$work/real.img khib.normal=reboot console=ttyS0]
kexec [-e]"
        if [ "$(state "$work/real.img")" = COMMITTED ]; then pass "$r the check wrote nothing: the image stays COMMITTED for R"
        else fail "$r the check wrote nothing: the image stays COMMITTED for R" "$(state "$work/real.img")"; fi
        resume sh "$base $files" KHIB_CONF="$work/real.conf" KHIB_RESTORE="$REAL"
        real "$r the same image on another machine (memory map): refused, ABANDONED" ABANDONED "$refused_why" \
            "^khib: not resuming the hibernated system on $work/real.img: not restoring $work/real.img: the firmware memory map"
    fi

    # Each way the restore returns: the image ends ABANDONED with that exit.
    commit "$work/real.img"
    resume sh "$base $confine $realimg" KHIB_KEXEC="$work/no-kexec" KHIB_RESTORE="$work/bin/real-restore" RESTORE_MEMMAP="$work/empty-memmap"
    real "$r restore refused (3, memory map): ABANDONED, exit 3 in the reason" ABANDONED \
        "a normal boot started after the restore refused it (khib-restore exit 3)" \
        "^khib-restore: not restoring .*memory map"
    commit "$work/real.img"
    resume sh "$base $confine $realimg" KHIB_KEXEC="$work/no-kexec" KHIB_RESTORE="$work/bin/real-restore"
    real "$r restore returned without jumping (0): ABANDONED, exit 0 in the reason" ABANDONED \
        "a normal boot started after the restore returned without jumping (khib-restore exit 0)" \
        "^khib-restore: image [0-9a-f-]{36} on $work/real.img abandoned: "
    if [ -x "$TOOL" ]; then
        commit "$work/real.img"
        chunk=$("$TOOL" stored-chunk "$work/real.img" 0 2>/dev/null || true)
        # The tool prints: index offset length first-pfn last-pfn.
        # shellcheck disable=SC2086
        set -- $chunk
        if [ $# -ge 3 ] && "$TOOL" flip "$work/real.img" $(($2 + $3 / 2)) >/dev/null 2>&1; then
            resume sh "$base $confine $realimg" KHIB_KEXEC="$work/no-kexec" KHIB_RESTORE="$work/bin/real-restore"
            real "$r damaged chunk (2): ABANDONED, exit 2 in the reason" ABANDONED \
                "a normal boot started after the restore failed (image unreadable or damaged) (khib-restore exit 2)" \
                "the image is damaged"
        else
            fail "$r damaged chunk (2): could not damage the image" "$chunk"
        fi
    else
        echo "note: build/tests/tool missing: the damaged-chunk check was skipped"
    fi
    commit "$work/real.img"
    "$REAL" --image "$work/real.img" --memory-file "$work/real.mem" --consume --quiet >/dev/null 2>&1 || true
    resume sh "$base" KHIB_CONF="$work/real.conf" KHIB_RESTORE="$REAL"
    real "$r a consumed image is not abandoned: stays CONSUMED, silent" CONSUMED "" '^$'
    : > "$work/real.img"
    resume sh "$base" KHIB_CONF="$work/real.conf" KHIB_RESTORE="$REAL"
    if [ "$rc" = 0 ] && [ -z "$out" ] && [ -z "$(state "$work/real.img")" ]; then
        pass "$r an empty target: nothing, silent"
    else
        fail "$r an empty target: nothing, silent" "exit $rc" "$out"
    fi

    # An encrypted image that stays locked (exit 11: three wrong passphrases)
    # is kept, and marked, so that the ordinary boots after it neither
    # start R again for it (R reboots when it does not jump: a loop) nor
    # retire it; the mark is cleared, so a later boot checks it again.
    KHIB=$root/build/khib
    if [ -x "$KHIB" ]; then
        echo 'the passphrase' > "$work/enc.pass"
        printf 'wrong one\nwrong two\nwrong three\n' > "$work/enc.wrong"
        truncate -s 64M "$work/enc.img"
        printf 'target=%s\npublic-key=%s\n' "$work/enc.img" "$work/enc.pub" > "$work/enc.conf"
        "$KHIB" setup-encryption --config "$work/enc.conf" --target "$work/enc.img" --argon2-ops 1 \
            --argon2-mem 8M --passphrase-fd 3 3<"$work/enc.pass" >/dev/null 2>&1 || true
        "$SAVE" --core "$work/real.core" --target "$work/enc.img" --public-key "$(cat "$work/enc.pub" 2>/dev/null)" \
            --quiet >/dev/null 2>&1 || true
        locked() { "$REAL" --image "$work/enc.img" --info 2>/dev/null | sed -n 's/^stayed locked: *//p'; }
        # real_enc NAME STATE MARK: enc.img is in STATE, its locked mark set (MARK=set) or not (MARK=none)
        real_enc() {
            got_state=$(state "$work/enc.img") got_mark=none
            [ -z "$(locked)" ] || got_mark="set"
            if [ "$got_state" = "$2" ] && [ "$got_mark" = "$3" ]; then pass "$1"
            else fail "$1" "state $got_state, mark $got_mark; expected $2, $3" "$out" "$(cat "$log")"; fi
        }
        cat > "$work/bin/real-locked" <<WRAPPER
#!/bin/sh
{ printf 'khib-restore'; for a; do printf ' [%s]' "\$a"; done; echo; } >> "\$KHIB_TEST_LOG"
if [ "\${3:-}" = --jump ]; then
    set -- --image "\$2" --memory-file "$work/enc.mem" --quiet --passphrase-fd 3
    exec "$REAL" "\$@" 3<"$work/enc.wrong"
fi
exec "$REAL" "\$@"
WRAPPER
        chmod 755 "$work/bin/real-locked"
        encimg="khib.image=$work/enc.img khib.wait=0"
        e="real khib-restore, encrypted:"
        real_enc "$e a committed encrypted image to start with" COMMITTED none
        # The confined restore entry: R asks, three wrong passphrases, exit
        # 11; kept, marked, and the full-memory boot gets khib.locked=1.
        resume sh "$base $confine $encimg $files" KHIB_RESTORE="$work/bin/real-locked"
        expect "$e the restore entry, locked (11): not retired, the full-memory boot gets khib.locked=1" 137 \
            "khib-restore [--image] [$work/enc.img] [--jump]
kexec [-l] [$work/vmlinuz] [--initrd=$work/initrd] [--command-line=$base khib.locked=1]
kexec [-e]" "^khib: the encrypted image on $work/enc.img stays locked"
        real_enc "$e locked by R: COMMITTED, marked" COMMITTED set
        resume sh "$base khib.locked=1" KHIB_CONF="$work/enc.conf" KHIB_RESTORE="$work/bin/real-locked"
        expect "$e the second boot (khib.locked=1): says so, clears the mark, no R, no retiring" 0 \
            "khib-restore [--image] [$work/enc.img] [--clear-locked]" \
            "^khib: the encrypted image on $work/enc.img stayed locked in the boot before: it is kept, not resumed by this boot$"
        real_enc "$e after the second boot: COMMITTED, the mark cleared" COMMITTED none
        # R started by an ordinary boot's hook: locked, it reboots
        # (khib.normal=reboot); the ordinary boot that follows must not
        # start it again.
        "$REAL" --image "$work/enc.img" --memory-file "$work/enc.mem" --passphrase-fd 3 --quiet \
            3<"$work/enc.wrong" >/dev/null 2>&1 && rc=0 || rc=$?
        if [ "$rc" = 11 ]; then pass "$e three wrong passphrases: exit 11"
        else fail "$e three wrong passphrases: exit 11" "exit $rc"; fi
        real_enc "$e locked: COMMITTED, marked" COMMITTED set
        expect_resumable=$("$REAL" --image "$work/enc.img" --resumable 2>&1) && rc=0 || rc=$?
        if [ "$rc" = 11 ] && [ "$expect_resumable" = "khib-restore: not restoring $work/enc.img: the encrypted image stayed locked at the last boot: kept, not resumed by this boot" ]; then
            pass "$e --resumable on a marked image: exit 11, one line"
        else fail "$e --resumable on a marked image: exit 11, one line" "exit $rc" "$expect_resumable"; fi
        resume sh "$base $files" KHIB_CONF="$work/enc.conf" KHIB_RESTORE="$work/bin/real-locked"
        expect "$e ordinary boot after R stayed locked: the line, the mark cleared, no R (no kexec), no retiring" 0 \
            "khib-restore [--image] [$work/enc.img] [--resumable]
khib-restore [--image] [$work/enc.img] [--clear-locked]" \
            "^khib: not restoring $work/enc.img: the encrypted image stayed locked at the last boot: kept, not resumed by this boot$"
        if [ "$(printf '%s\n' "$out" | wc -l)" = 1 ]; then pass "$e ordinary boot after R stayed locked: one line"
        else fail "$e ordinary boot after R stayed locked: one line" "$out"; fi
        real_enc "$e after that boot: COMMITTED, the mark cleared" COMMITTED none
        # The boot after it checks the image again (here refused: its window).
        resume sh "$base $files" KHIB_CONF="$work/enc.conf" KHIB_RESTORE="$REAL"
        real_enc "$e the boot after: checked again, refused (its window) and retired" ABANDONED none
        if "$REAL" --image "$work/enc.img" --clear-locked 2>/dev/null; then rc=0; else rc=$?; fi
        if [ "$rc" = 10 ]; then pass "$e --clear-locked without a committed image: exit 10"
        else fail "$e --clear-locked without a committed image: exit 10" "exit $rc"; fi
    else
        echo "note: build/khib missing: the encrypted image's checks were skipped (make)"
    fi
else
    echo "note: build/khib-gencore, khib-save or khib-restore missing: the real khib-restore checks were skipped (make)"
fi

# --- boot-time wrappers ------------------------------------------------------
# Each runs khib-resume.sh (here a stub that fails) and must not stop the
# boot: the local-top script exits 0; the dracut and mkinitcpio hooks are
# sourced into a `set -e` shell, which must carry on.
wrapper() {   # wrapper NAME COMMAND...
    name=$1
    shift
    : > "$log"
    rc=0
    out=$(KHIB_RESUME="$work/bin/resume-fails" "$@" 2>&1) || rc=$?
    if [ "$rc" = 0 ] && [ "$(cat "$log")" = "resume-fails ran" ] &&
        printf '%s\n' "$out" | grep -q '^khib: .*failed (exit 3): booting normally' &&
        printf '%s\n' "$out" | grep -q '^still booting$'; then
        pass "$name"
    else
        fail "$name" "exit $rc, calls: $(cat "$log")" "$out"
    fi
}
prereqs() {   # prereqs NAME FILE: "FILE prereqs" prints an empty list
    if out=$(sh "$2" prereqs 2>&1) && [ -z "$out" ]; then pass "$1"; else fail "$1" "$out"; fi
}
prereqs "initramfs-tools local-top: prereqs" "$hooks/initramfs-tools/scripts/local-top/khib"
# shellcheck disable=SC2016 # "$1" is the inner shell's
wrapper "initramfs-tools local-top: runs khib-resume.sh, exits 0 when it fails" \
    sh -c '"$1" && echo "still booting"' _ "$hooks/initramfs-tools/scripts/local-top/khib"
# shellcheck disable=SC2016 # "$1" is the inner shell's
wrapper "dracut pre-mount hook: sourced under set -e, the boot carries on" \
    sh -ec '. "$1"; echo "still booting"' _ "$hooks/dracut/90khib/khib-pre-mount.sh"
# shellcheck disable=SC2016 # "$1" is the inner shell's
wrapper "mkinitcpio run_hook: sourced under set -e, the boot carries on" \
    sh -ec '. "$1"; run_hook; echo "still booting"' _ "$hooks/mkinitcpio/hooks/khib"

# --- initramfs-tools build hook ----------------------------------------------
sysroot=$work/sysroot
mkdir -p "$sysroot/usr/lib/khib" "$sysroot/boot" "$sysroot/usr/lib/modules/6.12.0-test"
cp "$work/bin/khib-restore" "$sysroot/usr/lib/khib/khib-restore"
cp "$hooks/khib-resume.sh" "$sysroot/usr/lib/khib/khib-resume.sh"
: > "$sysroot/usr/lib/khib/khib-initrd.img"
: > "$sysroot/boot/vmlinuz-6.12.0-test"
stamp=$sysroot/var/lib/khib/initramfs/6.12.0-test
# The stub hook-functions: initramfs-tools' own when installed (so the hook
# runs against the real file), then stub copy_exec and copy_file on top.
cat > "$work/hook-functions" <<'EOF'
if [ -f /usr/share/initramfs-tools/hook-functions ]; then
    . /usr/share/initramfs-tools/hook-functions
fi
copy_exec() { { printf 'copy_exec'; for a; do printf ' [%s]' "$a"; done; echo; } >> "$KHIB_TEST_LOG"; }
copy_file() { { printf 'copy_file'; for a; do printf ' [%s]' "$a"; done; echo; } >> "$KHIB_TEST_LOG"; }
EOF
itools() {   # itools SYSROOT ARGS...: run the hook; sets $rc, $out
    : > "$log"
    rc=0
    out=$(PATH="$work/pathbin:/usr/bin:/bin" KHIB_SYSROOT="$1" KHIB_HOOK_FUNCTIONS="$work/hook-functions" \
        version=6.12.0-test DESTDIR="$work/destdir" verbose=n sh "$hooks/initramfs-tools/hooks/khib" 2>&1) || rc=$?
}
prereqs "initramfs-tools hook: prereqs" "$hooks/initramfs-tools/hooks/khib"
mkdir -p "$sysroot/etc"
printf 'target=/dev/disk/by-partlabel/khib\n' > "$sysroot/etc/khib.conf"
itools "$sysroot"
expect "initramfs-tools hook: copies khib-restore, khib-resume.sh, khib's initramfs, kexec, /etc/khib.conf, the kernel" 0 \
    "copy_exec [$sysroot/usr/lib/khib/khib-restore] [/usr/lib/khib/khib-restore]
copy_file [script] [$sysroot/usr/lib/khib/khib-resume.sh] [/usr/lib/khib/khib-resume.sh]
copy_file [script] [$sysroot/usr/lib/khib/khib-lib.sh] [/usr/lib/khib/khib-lib.sh]
copy_file [initramfs] [$sysroot/usr/lib/khib/khib-initrd.img] [/usr/lib/khib/khib-initrd.img]
copy_exec [$work/pathbin/kexec] [/usr/sbin/kexec]
copy_file [config] [$sysroot/etc/khib.conf] [/etc/khib.conf]
copy_file [kernel] [$sysroot/boot/vmlinuz-6.12.0-test] [/usr/lib/khib/vmlinuz]"
if [ -z "$out" ]; then pass "initramfs-tools hook: no warning with everything in place"
else fail "initramfs-tools hook: no warning with everything in place" "$out"; fi
if [ "$(cat "$stamp" 2>/dev/null)" = "generator=initramfs-tools
target=/dev/disk/by-partlabel/khib" ]; then pass "initramfs-tools hook: records its build for khib check (generator, target)"
else fail "initramfs-tools hook: records its build for khib check (generator, target)" "$(cat "$stamp" 2>&1)"; fi
rm "$sysroot/etc/khib.conf"
itools "$sysroot"
expect "initramfs-tools hook: without /etc/khib.conf: a warning, exit 0, the rest copied" 0 \
    "copy_exec [$sysroot/usr/lib/khib/khib-restore] [/usr/lib/khib/khib-restore]
copy_file [script] [$sysroot/usr/lib/khib/khib-resume.sh] [/usr/lib/khib/khib-resume.sh]
copy_file [script] [$sysroot/usr/lib/khib/khib-lib.sh] [/usr/lib/khib/khib-lib.sh]
copy_file [initramfs] [$sysroot/usr/lib/khib/khib-initrd.img] [/usr/lib/khib/khib-initrd.img]
copy_exec [$work/pathbin/kexec] [/usr/sbin/kexec]
copy_file [kernel] [$sysroot/boot/vmlinuz-6.12.0-test] [/usr/lib/khib/vmlinuz]" \
    '^W: khib: /etc/khib.conf is missing: an ordinary boot can neither resume nor retire a hibernation image.*update-initramfs'
if [ ! -e "$stamp" ]; then pass "initramfs-tools hook: an incomplete build leaves no record"
else fail "initramfs-tools hook: an incomplete build leaves no record" "$(cat "$stamp")"; fi
printf 'target=/dev/disk/by-partlabel/khib\n' > "$sysroot/etc/khib.conf"
itools "$work/empty-root"
expect "initramfs-tools hook: khib not installed: a warning, exit 0, nothing copied" 0 "" \
    '^W: khib: /usr/lib/khib/khib-restore is missing'

# --- mkinitcpio install hook -------------------------------------------------
mkinitcpio_build() {   # mkinitcpio_build SYSROOT KERNELIMAGE: sets $rc, $out
    : > "$log"
    rc=0
    out=$(KHIB_SYSROOT="$1" KERNELIMAGE="$2" bash -c '
        set -eu
        record() { { printf "%s" "$1"; shift; for a; do printf " [%s]" "$a"; done; echo; } >> "$KHIB_TEST_LOG"; }
        add_binary() { record add_binary "$@"; }
        add_file() { record add_file "$@"; }
        add_runscript() { record add_runscript "$@"; }
        warning() { printf "==> WARNING: $1\n" "${@:2}" >&2; }
        KERNELVERSION=6.12.0-test
        . "$0"
        build
        help | grep -q khib.image= && echo "help ok"
    ' "$hooks/mkinitcpio/install/khib" 2>&1) || rc=$?
}
mkinitcpio_build "$sysroot" /boot/vmlinuz-6.12.0-test
expect "mkinitcpio install: add_binary khib-restore, khib-resume.sh, kexec; the kernel; /etc/khib.conf; add_runscript; help" 0 \
    "add_binary [/usr/lib/khib/khib-restore]
add_binary [/usr/lib/khib/khib-resume.sh]
add_file [/usr/lib/khib/khib-lib.sh] [/usr/lib/khib/khib-lib.sh] [644]
add_binary [kexec]
add_file [/usr/lib/khib/khib-initrd.img] [/usr/lib/khib/khib-initrd.img] [644]
add_file [/boot/vmlinuz-6.12.0-test] [/usr/lib/khib/vmlinuz] [644]
add_file [/etc/khib.conf] [/etc/khib.conf] [644]
add_runscript" '^help ok$'
if [ "$(cat "$stamp" 2>/dev/null)" = "generator=mkinitcpio
target=/dev/disk/by-partlabel/khib" ]; then pass "mkinitcpio install: records its build for khib check"
else fail "mkinitcpio install: records its build for khib check" "$(cat "$stamp" 2>&1)"; fi
: > "$sysroot/usr/lib/modules/6.12.0-test/vmlinuz"
rm "$sysroot/etc/khib.conf"
mkinitcpio_build "$sysroot" ""
expect "mkinitcpio install: without KERNELIMAGE, the kernel from /usr/lib/modules; without /etc/khib.conf, a warning" 0 \
    "add_binary [/usr/lib/khib/khib-restore]
add_binary [/usr/lib/khib/khib-resume.sh]
add_file [/usr/lib/khib/khib-lib.sh] [/usr/lib/khib/khib-lib.sh] [644]
add_binary [kexec]
add_file [/usr/lib/khib/khib-initrd.img] [/usr/lib/khib/khib-initrd.img] [644]
add_file [/usr/lib/modules/6.12.0-test/vmlinuz] [/usr/lib/khib/vmlinuz] [644]
add_runscript" '^==> WARNING: khib: /etc/khib.conf is missing: an ordinary boot can neither resume nor retire a hibernation image'
rm "$sysroot/usr/lib/modules/6.12.0-test/vmlinuz"
printf 'target=/dev/disk/by-partlabel/khib\n' > "$sysroot/etc/khib.conf"

# --- dracut module -----------------------------------------------------------
dracut_module() {   # dracut_module SYSROOT: check, then install; sets $rc, $out
    : > "$log"
    rc=0
    out=$(PATH="$work/pathbin:$PATH" KHIB_SYSROOT="$1" bash -c '
        set -eu
        record() { { printf "%s" "$1"; shift; for a; do printf " [%s]" "$a"; done; echo; } >> "$KHIB_TEST_LOG"; }
        inst_multiple() { record inst_multiple "$@"; }
        inst_simple() { record inst_simple "$@"; }
        inst_hook() { record inst_hook "$@"; }
        dwarn() { echo "dracut: WARNING: $*" >&2; }
        require_binaries() { command -v "$@" >/dev/null; }
        moddir=$(dirname "$0") kernel=6.12.0-test
        . "$0"
        if check; then echo "check: include"; install; else echo "check: leave out"; fi
        depends
    ' "$hooks/dracut/90khib/module-setup.sh" 2>&1) || rc=$?
}
dracut_module "$sysroot"
expect "dracut module: check includes it; install asks for khib-restore, khib-resume.sh, kexec, the kernel, /etc/khib.conf, the pre-mount hook" 0 \
    "inst_multiple [/usr/lib/khib/khib-restore] [/usr/lib/khib/khib-resume.sh] [/usr/lib/khib/khib-lib.sh] [kexec]
inst_simple [/usr/lib/khib/khib-initrd.img]
inst_simple [/boot/vmlinuz-6.12.0-test] [/usr/lib/khib/vmlinuz]
inst_simple [/etc/khib.conf]
inst_hook [pre-mount] [10] [$hooks/dracut/90khib/khib-pre-mount.sh]" '^check: include$'
if [ "$(cat "$stamp" 2>/dev/null)" = "generator=dracut
target=/dev/disk/by-partlabel/khib" ]; then pass "dracut module: records its build for khib check"
else fail "dracut module: records its build for khib check" "$(cat "$stamp" 2>&1)"; fi
if printf '%s\n' "$out" | grep -q WARNING; then fail "dracut module: no warning with khib.conf" "$out"
else pass "dracut module: no warning with khib.conf"; fi
rm "$sysroot/etc/khib.conf"
dracut_module "$sysroot"
expect "dracut module: without /etc/khib.conf: a warning, the rest installed" 0 \
    "inst_multiple [/usr/lib/khib/khib-restore] [/usr/lib/khib/khib-resume.sh] [/usr/lib/khib/khib-lib.sh] [kexec]
inst_simple [/usr/lib/khib/khib-initrd.img]
inst_simple [/boot/vmlinuz-6.12.0-test] [/usr/lib/khib/vmlinuz]
inst_hook [pre-mount] [10] [$hooks/dracut/90khib/khib-pre-mount.sh]" \
    '^dracut: WARNING: khib: /etc/khib.conf is missing: an ordinary boot can neither resume nor retire a hibernation image'
dracut_module "$work/empty-root"
expect "dracut module: check leaves it out when khib is not installed" 0 "" '^check: leave out$'

# --- initramfs/init (khib's own initramfs, role restore) ---------------------
# /init reads /proc/cmdline and /etc/khib/normal-boot by their absolute
# paths, so it runs in a chroot: busybox (static) as sh, sleep and sync, and
# stubs for everything that would touch the system (mount, reboot, poweroff,
# khib-restore).  Needs root (chroot, mknod of a block device node that is
# never opened); skipped otherwise.
busybox=$(command -v busybox || true)
chroot=$(command -v chroot || true)
if [ "$(id -u)" = 0 ] && [ -n "$chroot" ] && [ -n "$busybox" ] &&
    ! ldd "$busybox" >/dev/null 2>&1 &&
    mkdir -p "$work/initroot/dev" && mknod "$work/initroot/dev/vda" b 7 250 2>/dev/null; then
    ir=$work/initroot
    mkdir -p "$ir/bin" "$ir/proc" "$ir/sys" "$ir/tmp" "$ir/etc/khib"
    cp "$busybox" "$ir/bin/busybox"
    for applet in sh sleep sync cat; do ln -s busybox "$ir/bin/$applet"; done
    cp "$root/initramfs/init" "$ir/init"
    chmod 755 "$ir/init"
    mkdir -p "$ir/usr/lib/khib"
    cp "$root/hooks/khib-lib.sh" "$ir/usr/lib/khib/khib-lib.sh"
    # Each stub logs to /log in the chroot, one bracket per argument.
    for stub in mount reboot poweroff khib-restore; do
        {
            echo '#!/bin/sh'
            # shellcheck disable=SC2016 # written into the stub as it is
            printf '%s\n' "{ printf '$stub'; for a; do printf ' [%s]' \"\$a\"; done; echo; } >> /log"
        } > "$ir/bin/$stub"
    done
    cat >> "$ir/bin/reboot" <<'STUB'
kill -KILL "$PPID"
exit 0
STUB
    cat >> "$ir/bin/khib-restore" <<'STUB'
if [ "$3" = --abandon ]; then
    [ "${STUB_ABANDON:-10}" = 0 ] && echo "khib-restore: image 00000000-stub on $2 abandoned: $4; it will never be restored"
    [ "${STUB_ABANDON:-10}" = 2 ] && echo "khib-restore: cannot abandon the image on $2: stub says exit 2"
    exit "${STUB_ABANDON:-10}"
fi
echo "khib-restore: stub says exit ${STUB_RESTORE:-10}"
exit "${STUB_RESTORE:-10}"
STUB
    chmod 755 "$ir/bin/"*
    # init_run CMDLINE [VAR=VALUE...]: boot /init with CMDLINE; sets $rc, $out, $calls
    init_run() {
        printf '%s\n' "$1" > "$ir/proc/cmdline"
        shift
        : > "$ir/log"
        rc=0
        # The group's 2>&1 also catches the shell's own "Killed" after reboot.
        out=$({ env -i PATH=/bin "$@" "$chroot" "$ir" /init < /dev/null; } 2>&1) || rc=$?
        calls=$(grep -v '^mount ' "$ir/log" || true)
    }
    # init_expect NAME CALLS PATTERN...: the calls (mount aside) exactly CALLS,
    # the output matching every PATTERN in this order, one line after another.
    init_expect() {
        name=$1 want=$2
        shift 2
        if [ "$calls" != "$want" ]; then
            fail "$name" "calls:" "$calls" "expected:" "$want" "$out"
            return
        fi
        rest=$out
        for pattern; do
            line=$(printf '%s\n' "$rest" | grep -En -m 1 -- "$pattern" | cut -d: -f1)
            if [ -z "$line" ]; then
                fail "$name" "output does not match /$pattern/ (in this order):" "$out"
                return
            fi
            rest=$(printf '%s\n' "$rest" | sed "1,${line}d")
        done
        pass "$name"
    }
    jump="khib-restore [--image] [/dev/vda] [--jump]"
    # abandon RC: the abandon call after a restore that exited RC
    abandon() { echo "khib-restore [--image] [/dev/vda] [--abandon] [a normal boot started after the restore did not jump (khib-restore exit $1)]"; }
    restore_cmd="console=ttyS0 khib.role=restore khib.image=/dev/vda"

    init_run "$restore_cmd" STUB_RESTORE=3 STUB_ABANDON=0
    init_expect "init: restore refused (3): retired, then no normal boot configured: what to do, then a shell" \
        "$jump
$(abandon 3)" \
        '^khib-init: restore refused or failed \(exit 3\): booting normally, so the image is retired$' \
        '^khib-restore: image 00000000-stub on /dev/vda abandoned: a normal boot started after the restore did not jump \(khib-restore exit 3\)' \
        '^khib-init: no normal boot is configured for this restore entry: power off and choose the normal boot entry' \
        '^khib-init: to configure one: add khib.normal=reboot to this entry.s command line .*one-shot \(grub-reboot\), or put an executable /etc/khib/normal-boot into this initramfs \(mkinitramfs.sh -a OVERLAY\)' \
        '^khib-init: starting a shell$'
    if [ "$rc" = 0 ]; then pass "init: the shell starts (and ends at the end of its input)"
    else fail "init: the shell starts (and ends at the end of its input)" "exit $rc" "$out"; fi

    for code in 10 2 5; do
        init_run "$restore_cmd" STUB_RESTORE="$code"
        init_expect "init: restore exit $code: abandon after it, with the exit" "$jump
$(abandon "$code")" '^khib-init: no normal boot is configured'
    done
    if printf '%s\n' "$out" | grep -q '^khib-init: restore refused or failed (exit 5)'; then
        pass "init: restore exit 5 is a failure"
    else
        fail "init: restore exit 5 is a failure" "$out"
    fi
    init_run "$restore_cmd" STUB_RESTORE=10
    if [ "$rc" = 0 ] && printf '%s\n' "$out" | grep -q '^khib-init: starting a shell$' &&
        ! printf '%s\n' "$out" | grep -q 'restore refused or failed'; then
        pass "init: no committed image (10) is no failure"
    else
        fail "init: no committed image (10) is no failure" "$out"
    fi

    init_run "$restore_cmd" STUB_RESTORE=3 STUB_ABANDON=2
    init_expect "init: the abandon fails: one line, the boot goes on" "$jump
$(abandon 3)" '^khib-restore: cannot abandon' \
        '^khib-init: the image on /dev/vda could not be retired \(khib-restore --abandon exit 2, cause above\)' \
        '^khib-init: no normal boot is configured'

    init_run "$restore_cmd khib.normal=reboot" STUB_RESTORE=3
    init_expect "init: khib.normal=reboot: retired, says so, reboot -f, no shell" "$jump
$(abandon 3)
reboot [-f]" '^khib-init: no normal-boot hook in this initramfs; khib.normal=reboot: rebooting'
    if printf '%s\n' "$out" | grep -q 'starting a shell'; then
        fail "init: khib.normal=reboot: no shell" "$out"
    else
        pass "init: khib.normal=reboot: no shell"
    fi

    printf '#!/bin/sh\necho "normal-boot ran" >> /log\n' > "$ir/etc/khib/normal-boot"
    chmod 755 "$ir/etc/khib/normal-boot"
    init_run "$restore_cmd khib.normal=reboot" STUB_RESTORE=2
    init_expect "init: /etc/khib/normal-boot: retired, then the hook runs (before khib.normal=)" "$jump
$(abandon 2)
normal-boot ran" '^khib-init: booting normally$'
    rm "$ir/etc/khib/normal-boot"

    init_run "console=ttyS0 khib.role=restore khib.image=/dev/vdz"
    init_expect "init: image device missing: not retired, says so, no call" "" \
        '^khib-init: image device /dev/vdz not found: an image on it, if any, could not be retired$' \
        '^khib-init: no normal boot is configured'

    init_run "console=ttyS0 khib.role=restore"
    init_expect "init: no khib.image=: nothing to retire, no call" "" \
        '^khib-init: no khib.image= on the command line$' '^khib-init: starting a shell$'
else
    echo "note: not root, or no chroot or static busybox, or no mknod: initramfs/init's normal-boot checks were skipped"
fi
if command -v shellcheck >/dev/null 2>&1; then
    if msg=$(shellcheck -S warning "$root/initramfs/init" 2>&1); then
        pass "shellcheck -S warning initramfs/init"
    else
        fail "shellcheck -S warning initramfs/init" "$msg"
    fi
fi

# --- systemd/khib-retire.service -----------------------------------------------
unit=$root/systemd/khib-retire.service
unit_has() {   # unit_has NAME LINE...: every LINE is a line of the unit
    name=$1
    shift
    for want; do
        if ! grep -qxF -- "$want" "$unit"; then
            fail "$name" "no line '$want' in $unit"
            return
        fi
    done
    pass "$name"
}
unit_has "khib-retire.service: oneshot, run once per boot, khib retire with the reason" \
    "Type=oneshot" "RemainAfterExit=yes" \
    'ExecStart=/usr/sbin/khib retire --reason "a normal boot started (khib-retire.service)"'
unit_has "khib-retire.service: early, before the root's fsck and remount and every other mount" \
    "DefaultDependencies=no" "WantedBy=sysinit.target" "ConditionPathExists=/etc/khib.conf" \
    "Before=systemd-fsck-root.service systemd-remount-fs.service local-fs-pre.target"
# udevd is ordered after systemd-remount-fs.service (through hwdb-update and
# sysusers): ordering this unit after it would make a cycle.
if grep -Eq '^(After|Requires|Wants|BindsTo)=.*udev' "$unit"; then
    fail "khib-retire.service: not ordered after udev (an ordering cycle)" "$(grep -E '^(After|Requires|Wants|BindsTo)=' "$unit")"
else
    pass "khib-retire.service: not ordered after udev (an ordering cycle)"
fi
# shellcheck disable=SC2016 # make's $(DESTDIR), literally
if grep -qxF '	install -D -m 644 systemd/khib-retire.service $(DESTDIR)/usr/lib/systemd/system/khib-retire.service' \
    "$root/Makefile"; then
    pass "khib-retire.service: make install installs it"
else
    fail "khib-retire.service: make install installs it"
fi
if command -v systemd-analyze >/dev/null 2>&1; then
    vroot=$work/unit-root
    mkdir -p "$vroot/usr/sbin" "$vroot/usr/lib/systemd/system" "$vroot/etc"
    printf '#!/bin/sh\n' > "$vroot/usr/sbin/khib"
    chmod 755 "$vroot/usr/sbin/khib"
    cp "$unit" "$vroot/usr/lib/systemd/system/"
    if msg=$(systemd-analyze verify --root="$vroot" khib-retire.service 2>&1) && [ -z "$msg" ]; then
        pass "khib-retire.service: systemd-analyze verify"
    else
        fail "khib-retire.service: systemd-analyze verify" "$msg"
    fi
else
    echo "note: systemd-analyze is not installed: the unit was not verified by systemd"
fi

# --- files -------------------------------------------------------------------
for f in khib-resume.sh initramfs-tools/hooks/khib initramfs-tools/scripts/local-top/khib; do
    if [ -x "$hooks/$f" ]; then pass "executable: hooks/$f"; else fail "executable: hooks/$f"; fi
done
if command -v shellcheck >/dev/null 2>&1; then
    for f in $(cd "$root" && find hooks -type f | LC_ALL=C sort); do
        if msg=$(shellcheck -S warning "$root/$f" 2>&1); then
            pass "shellcheck -S warning $f"
        else
            fail "shellcheck -S warning $f" "$msg"
        fi
    done
else
    echo "note: shellcheck is not installed: the shellcheck checks were skipped (apt-get install shellcheck)"
fi

counts
