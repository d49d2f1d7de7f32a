#!/bin/sh
# Host tests of hooks/: khib-resume.sh's decisions (with a fake command line
# and stub khib-restore and kexec programs, under sh and busybox sh), the
# boot-time wrappers of the three generators, the build hooks of
# initramfs-tools, dracut and mkinitcpio (with stub copy/install functions),
# and shellcheck on every file.  Prints "PASS name" or "FAIL name" per check
# and ends with "N passed, N failed"; exits non-zero on any failure.
# Nothing here needs root, a block device, or touches the system.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
hooks=$root/hooks
work=$(mktemp -d "${TMPDIR:-/tmp}/khib-hooks.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
log=$work/log
KHIB_TEST_LOG=$log
export KHIB_TEST_LOG

pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() {   # fail NAME DETAILS...
    failed=$((failed + 1))
    echo "FAIL $1"
    shift
    printf '%s\n' "$@" | sed 's/^/    | /'
}

# --- stubs -------------------------------------------------------------------
# Each stub logs its arguments one per bracket, so that an argument with
# spaces (the command line) shows as one.  "jump" kills the caller, as a
# real jump or kexec -e leaves nothing behind to return to.
mkdir -p "$work/bin" "$work/pathbin"
cat > "$work/bin/khib-restore" <<'EOF'
#!/bin/sh
{ printf 'khib-restore'; for a; do printf ' [%s]' "$a"; done; echo; } >> "$KHIB_TEST_LOG"
[ "${STUB_RESTORE:-10}" = jump ] && { kill -KILL "$PPID"; exit 99; }
echo "khib-restore: stub says exit ${STUB_RESTORE:-10}" >&2
exit "${STUB_RESTORE:-10}"
EOF
cat > "$work/bin/kexec" <<'EOF'
#!/bin/sh
{ printf 'kexec'; for a; do printf ' [%s]' "$a"; done; echo; } >> "$KHIB_TEST_LOG"
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

# --- khib-resume.sh ----------------------------------------------------------
# resume SHELL CMDLINE [VAR=VALUE...]: run khib-resume.sh under SHELL ("sh"
# or "busybox sh") with the command line CMDLINE, the stubs, and the extra
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
        KHIB_KEXEC="$work/bin/kexec" "$@" $shell "$hooks/khib-resume.sh"; } 2>&1) || rc=$?
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
kexec_l="kexec [-l] [$work/vmlinuz] [--initrd=$work/initrd] [--command-line=$base]"

for sh in $shells; do
    t="$sh:"
    [ "$sh" = busybox ] && sh="busybox sh"

    resume "$sh" "$base $confine $files"
    expect "$t no khib.image: nothing runs, no output" 0 ""
    [ -z "$out" ] || fail "$t no khib.image: silent" "$out"

    resume "$sh" "$base $confine $img $files" STUB_RESTORE=jump
    expect "$t image restored: khib-restore --image DEV --jump, then nothing" 137 "$restored"

    resume "$sh" "$base $confine $img $files" STUB_RESTORE=0
    expect "$t khib-restore returns 0 after --jump: an error, boot goes on with full memory" 137 \
        "$restored
$kexec_l
kexec [-e]" '^khib: khib-restore returned without jumping' 'booting normally'

    resume "$sh" "$base $confine $img $files"
    expect "$t no image (10), confined: kexec -l with the cleaned command line, kexec -e" 137 \
        "$restored
$kexec_l
kexec [-e]" "^khib: no committed image on $work/image: booting normally" \
        '^khib: booting this kernel again with full memory'

    resume "$sh" "BOOT_IMAGE=/vmlinuz nokaslr root=/dev/vda1 retain_initrd nokaslr memmap=exactmap memmap=640K@0 memmap=511M@1M console=ttyS0,115200 * a?b khib.role=restore $img $files nokaslr"
    expect "$t cleaning: khib.*, memmap=, retain_initrd and khib's nokaslr go; the user's nokaslr and globs stay" 137 \
        "$restored
kexec [-l] [$work/vmlinuz] [--initrd=$work/initrd] [--command-line=BOOT_IMAGE=/vmlinuz nokaslr root=/dev/vda1 console=ttyS0,115200 * a?b nokaslr]
kexec [-e]"

    resume "$sh" "$base $img $files"
    expect "$t no image (10), not confined: no kexec, exit 0" 0 "$restored" \
        "^khib: no committed image on $work/image: booting normally"

    resume "$sh" "$base $confine $img $files" STUB_RESTORE=3
    expect "$t image refused (3): image kept, boot goes on with full memory" 137 \
        "$restored
$kexec_l
kexec [-e]" '^khib: restore refused or failed \(khib-restore exit 3, cause above\): the image is kept' \
        '^khib-restore: stub says exit 3'
    # (khib-restore's own lines, and the test shell's "Killed" after kexec -e)
    if printf '%s\n' "$out" | grep -Ev '^(khib-restore: |Killed$)' | grep -qv '^khib: '; then
        fail "$t every message starts with khib:" "$out"
    else
        pass "$t every message starts with khib:"
    fi

    resume "$sh" "$base $confine $img $files" STUB_KEXEC_L=1
    expect "$t kexec -l fails: one line, boot continues with small memory" 0 \
        "$restored
$kexec_l" '^khib: cannot boot again with full memory: kexec -l .* failed \(exit 1.*continues with only'

    resume "$sh" "$base $confine $img $files" STUB_KEXEC_E=1
    expect "$t kexec -e returns: unloaded, one line, boot continues" 0 \
        "$restored
$kexec_l
kexec [-e]
kexec [-u]" '^khib: cannot boot again with full memory: kexec -e returned \(exit 1'

    resume "$sh" "$base $confine $img $files" KHIB_KEXEC="$work/no-kexec"
    expect "$t kexec missing: one line, boot continues" 0 "$restored" \
        "^khib: cannot boot again with full memory: kexec is not in this initramfs \($work/no-kexec\).*kexec-tools"

    resume "$sh" "$base $confine khib.image=$work/no-device khib.wait=0 $files"
    expect "$t image device missing: no restore, clear message, boot goes on with full memory" 137 \
        "$kexec_l
kexec [-e]" "^khib: image device $work/no-device not found after 0 s: booting normally.*khib.wait="

    resume "$sh" "$base $img $files" KHIB_RESTORE="$work/no-restore"
    expect "$t khib-restore missing: clear message, boot continues" 0 "" \
        "^khib: $work/no-restore is missing from this initramfs: booting normally"

    resume "$sh" "$base $confine $img khib.kernel=$work/no-kernel khib.initrd=$work/initrd"
    expect "$t kernel image missing: names khib.kernel=, boot continues" 0 "$restored" \
        "^khib: cannot boot again with full memory: the kernel image $work/no-kernel is missing.*khib.kernel="

    resume "$sh" "$base $confine $img khib.kernel=$work/vmlinuz khib.initrd=$work/no-initrd"
    expect "$t initramfs missing: names retain_initrd, boot continues" 0 "$restored" \
        "^khib: cannot boot again with full memory: the initramfs $work/no-initrd is missing.*retain_initrd"

    resume "$sh" "$base $confine $img"
    if grep -q "^kexec \[-l\] \[/usr/lib/khib/vmlinuz\] \[--initrd=/sys/firmware/initrd\]" "$log" ||
        printf '%s\n' "$out" | grep -Eq '/usr/lib/khib/vmlinuz is missing|/sys/firmware/initrd is missing'; then
        pass "$t default paths /usr/lib/khib/vmlinuz and /sys/firmware/initrd"
    else
        fail "$t default paths /usr/lib/khib/vmlinuz and /sys/firmware/initrd" "$out" "$(cat "$log")"
    fi

    rm -f "$work/late"
    (sleep 0.3 && : > "$work/late") &
    resume "$sh" "$base khib.image=$work/late khib.wait=3" STUB_RESTORE=10
    wait
    expect "$t waits for a device that appears late" 0 "khib-restore [--image] [$work/late] [--jump]"

    resume "$sh" "$base khib.image=$work/image khib.wait=soon"
    expect "$t khib.wait= not a number: says so, waits the default" 0 "$restored" \
        '^khib: khib.wait=soon is not a number'
done

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
wrapper "initramfs-tools local-top: runs khib-resume.sh, exits 0 when it fails" \
    sh -c '"$1" && echo "still booting"' _ "$hooks/initramfs-tools/scripts/local-top/khib"
wrapper "dracut pre-mount hook: sourced under set -e, the boot carries on" \
    sh -ec '. "$1"; echo "still booting"' _ "$hooks/dracut/90khib/khib-pre-mount.sh"
wrapper "mkinitcpio run_hook: sourced under set -e, the boot carries on" \
    sh -ec '. "$1"; run_hook; echo "still booting"' _ "$hooks/mkinitcpio/hooks/khib"

# --- initramfs-tools build hook ----------------------------------------------
sysroot=$work/sysroot
mkdir -p "$sysroot/usr/lib/khib" "$sysroot/boot" "$sysroot/usr/lib/modules/6.12.0-test"
cp "$work/bin/khib-restore" "$sysroot/usr/lib/khib/khib-restore"
cp "$hooks/khib-resume.sh" "$sysroot/usr/lib/khib/khib-resume.sh"
: > "$sysroot/boot/vmlinuz-6.12.0-test"
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
itools "$sysroot"
expect "initramfs-tools hook: copies khib-restore, khib-resume.sh, kexec, the kernel" 0 \
    "copy_exec [$sysroot/usr/lib/khib/khib-restore] [/usr/lib/khib/khib-restore]
copy_file [script] [$sysroot/usr/lib/khib/khib-resume.sh] [/usr/lib/khib/khib-resume.sh]
copy_exec [$work/pathbin/kexec] [/usr/sbin/kexec]
copy_file [kernel] [$sysroot/boot/vmlinuz-6.12.0-test] [/usr/lib/khib/vmlinuz]"
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
mkinitcpio_build "" "$work/vmlinuz"
expect "mkinitcpio install: add_binary khib-restore, khib-resume.sh, kexec; the kernel; add_runscript; help" 0 \
    "add_binary [/usr/lib/khib/khib-restore]
add_binary [/usr/lib/khib/khib-resume.sh]
add_binary [kexec]
add_file [$work/vmlinuz] [/usr/lib/khib/vmlinuz] [644]
add_runscript" '^help ok$'
: > "$sysroot/usr/lib/modules/6.12.0-test/vmlinuz"
mkinitcpio_build "$sysroot" ""
expect "mkinitcpio install: without KERNELIMAGE, the kernel from /usr/lib/modules" 0 \
    "add_binary [/usr/lib/khib/khib-restore]
add_binary [/usr/lib/khib/khib-resume.sh]
add_binary [kexec]
add_file [/usr/lib/modules/6.12.0-test/vmlinuz] [/usr/lib/khib/vmlinuz] [644]
add_runscript"
rm "$sysroot/usr/lib/modules/6.12.0-test/vmlinuz"

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
expect "dracut module: check includes it; install asks for khib-restore, khib-resume.sh, kexec, the kernel, the pre-mount hook" 0 \
    "inst_multiple [/usr/lib/khib/khib-restore] [/usr/lib/khib/khib-resume.sh] [kexec]
inst_simple [/boot/vmlinuz-6.12.0-test] [/usr/lib/khib/vmlinuz]
inst_hook [pre-mount] [10] [$hooks/dracut/90khib/khib-pre-mount.sh]" '^check: include$'
dracut_module "$work/empty-root"
expect "dracut module: check leaves it out when khib is not installed" 0 "" '^check: leave out$'

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

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
