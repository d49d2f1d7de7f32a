# shellcheck shell=sh disable=SC2034
# Shared by the QEMU scenarios (sourced, not run).  Builds or finds the test
# kernel and the guest initramfs (both cached outside the repository, keyed
# by a hash of their inputs), boots guests, and counts results.
#
# A guest is one QEMU run.  Its initramfs is the khib initramfs plus an
# overlay holding the test kernel, kexec-tools, the khib initramfs itself (for
# B) and guest/*.sh; /etc/khib/normal-boot runs the scenario named by
# khibtest.scenario= on the command line.  The guest prints lines
# "KHIBTEST: PASS|FAIL <what>" on the serial console; the host counts them.

SCENARIO=$(basename "$0" .sh)
KHIB_TOP=${KHIB_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
KHIB_CACHE=${KHIB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/khib}
export KHIB_CACHE
QEMU_TIMEOUT=${QEMU_TIMEOUT:-600}
# The test kernel of the scenarios: a recipe name (tests/qemu/run-all.sh sets
# it from NAME@KERNEL).
KHIB_KERNEL=${KHIB_KERNEL:-6.12}
PASSED=0
FAILED=0

log() { printf '%s: %s\n' "$SCENARIO" "$*" >&2; }
pass() { PASSED=$((PASSED + 1)); printf 'PASS %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s\n' "$*"; }

finish() {
    printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
    [ "$FAILED" = 0 ] && [ "$PASSED" -gt 0 ]
}

# test_kernel RECIPE: print the cached test kernel's path, building it once
# (tests/qemu/kernel/RECIPE.recipe, docs/kernels.md).  The scenarios ask for
# "$KHIB_KERNEL".
test_kernel() {
    "$KHIB_TOP/tests/qemu/kernel/build.sh" "${1:-$KHIB_KERNEL}"
}

# copy_with_libs BIN DESTROOT: a dynamic binary and every library it loads.
copy_with_libs() {
    mkdir -p "$2$(dirname "$1")"
    cp -L "$1" "$2$1"
    ldd "$1" 2>/dev/null | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' | while read -r lib; do
        mkdir -p "$2$(dirname "$lib")"
        cp -L "$lib" "$2$lib"
    done
}

# guest_initrd KERNEL [OVERLAY]: print the path of the guest initramfs,
# building it when its inputs (programs, scripts, kernel, kexec) changed.
# OVERLAY: a directory whose files are added (tests/qemu/kernel/stock.sh's,
# for Debian's kernel); its path is part of the key, so it must name its
# contents (stock.sh's does: the package and its version).
guest_initrd() {
    kernel=$1 extra=${2:-}
    make -s -C "$KHIB_TOP" all build/khib-testload >&2 || return 1
    key=$({ [ -z "$extra" ] || echo "$extra"; } | cat - "$KHIB_TOP"/build/khib-save "$KHIB_TOP"/build/khib-restore "$KHIB_TOP"/build/khib \
        "$KHIB_TOP"/build/khib-testload "$KHIB_TOP"/initramfs/init "$KHIB_TOP"/mkinitramfs.sh \
        "$KHIB_TOP"/tests/qemu/guest/* "$KHIB_TOP"/tests/qemu/lib/common.sh "$KHIB_TOP"/hooks/khib-resume.sh \
        "$KHIB_TOP"/hooks/khib-lib.sh \
        "$kernel" /usr/sbin/kexec |
        sha256sum | cut -c1-16)
    dir="$KHIB_CACHE/initrd/$key"
    if [ ! -f "$dir/guest.img" ]; then
        rm -rf "$dir.tmp"
        mkdir -p "$dir.tmp/overlay/etc/khib" "$dir.tmp/overlay/test" "$dir.tmp/overlay/boot/khib" \
            "$dir.tmp/overlay/usr/lib/khib"
        "$KHIB_TOP/mkinitramfs.sh" -b "$KHIB_TOP/build" -o "$dir.tmp/khib-initrd.img" >&2 || return 1
        root="$dir.tmp/overlay"
        cp "$KHIB_TOP"/tests/qemu/guest/*.sh "$root/test/"
        cp "$KHIB_TOP/build/khib-testload" "$root/test/"
        # The distribution hook, run by a guest the way an initramfs would.
        cp "$KHIB_TOP/hooks/khib-resume.sh" "$root/test/khib-resume.sh"
        cp "$KHIB_TOP/hooks/khib-lib.sh" "$root/test/khib-lib.sh"
        # The system being hibernated runs the front end (B's and R's
        # initramfs carry only khib-save and khib-restore).
        mkdir -p "$root/bin"
        cp "$KHIB_TOP/build/khib" "$root/bin/khib"
        ln -s /test/guest.sh "$root/etc/khib/normal-boot"
        cp "$kernel" "$root/boot/khib/vmlinuz"
        cp "$dir.tmp/khib-initrd.img" "$root/usr/lib/khib/khib-initrd.img"
        copy_with_libs /usr/sbin/kexec "$root"
        [ -z "$extra" ] || cp -R "$extra/." "$root/"
        "$KHIB_TOP/mkinitramfs.sh" -b "$KHIB_TOP/build" -o "$dir.tmp/guest.img" -a "$root" >&2 || return 1
        rm -rf "$root"
        rm -rf "$dir"
        mv "$dir.tmp" "$dir"
    fi
    echo "$dir/guest.img"
}

# scenario_setup: what every scenario starts with: kernel and initrd, the
# test kernel of $KHIB_KERNEL and the guest initramfs, and work, a directory
# removed at exit.
scenario_setup() {
    kernel=$(test_kernel "$KHIB_KERNEL")
    initrd=$(guest_initrd "$kernel")
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
}

# guest_rootdisk KERNEL: print the path of an ext4 root disk image holding
# the guest initramfs's files (the guest boots it without an initramfs:
# run_guest with INITRD "" and root=/dev/vda rw init=/init), built with
# mke2fs -d (no loop device, no mount) and cached next to the initramfs.
# Boot a copy: the guest writes to its root.
guest_rootdisk() {
    rinitrd=$(guest_initrd "$1") || return 1
    rdisk="$(dirname "$rinitrd")/root.ext4"
    if [ ! -f "$rdisk" ]; then
        rtree="$rdisk.tree"
        rm -rf "$rtree" "$rdisk.tmp"
        mkdir -p "$rtree"
        gzip -dc "$rinitrd" | (cd "$rtree" && cpio -idm --quiet) || return 1
        mke2fs -q -F -t ext4 -L khibroot -d "$rtree" "$rdisk.tmp" 256M > /dev/null || return 1
        rm -rf "$rtree"
        mv "$rdisk.tmp" "$rdisk"
    fi
    echo "$rdisk"
}

# run_guest LOG KERNEL INITRD APPEND [QEMU ARGS...]: boot one guest until it
# powers off (or QEMU_TIMEOUT seconds pass); INITRD "" boots without one,
# KERNEL "" from the disks (the firmware and the bootloader on them).
# Its serial console goes to LOG, each line prefixed with the host's clock
# ("[1795391156.087] text") so that phases can be timed across the guest's
# boots; its input comes from GUEST_STDIN (default /dev/null: a FIFO lets a
# test type on the console).  Returns QEMU's status (124 on timeout).
# no_timer_check: under TCG on a loaded host the kernel's check of the
# IO-APIC timer can fail ("Kernel panic - not syncing: IO-APIC + timer
# doesn't work", seen in the transient kernel of roundtrip at a load of 20;
# khib hibernate passes the word on to it, frontend/hibernate.c).
run_guest() {
    glog=$1 gkernel=$2 ginitrd=$3 gappend=$4
    shift 4
    stamp "qemu start" > "$glog"
    {
    timeout --foreground -k 5 "$QEMU_TIMEOUT" qemu-system-x86_64 \
        -machine pc -accel tcg -m "${GUEST_MEM:-1G}" -smp "${GUEST_CPUS:-2}" \
        -display none -no-reboot -monitor none -serial stdio \
        ${gkernel:+-kernel} ${gkernel:+"$gkernel"} ${ginitrd:+-initrd} ${ginitrd:+"$ginitrd"} \
        ${gkernel:+-append} ${gkernel:+"console=ttyS0 panic=-1 no_timer_check $gappend"} "$@" \
        <"${GUEST_STDIN:-/dev/null}" 2>"$glog.qemu"
    echo "$?" > "$glog.rc"
    } | perl -MTime::HiRes=time -ne 'BEGIN { $| = 1 } s/\r//g; printf "[%.3f] %s", time, $_' >> "$glog"
    grc=$(cat "$glog.rc")
    stamp "qemu exit $grc" >> "$glog"
    [ "$grc" = 124 ] && stamp "qemu killed after $QEMU_TIMEOUT s" >> "$glog"
    return "$grc"
}

stamp() { perl -MTime::HiRes=time -e 'printf "[%.3f] %s\n", time, $ARGV[0]' "$1"; }

# collect LOG: turn the guest's KHIBTEST lines into PASS/FAIL results.
collect() {
    while IFS= read -r line; do
        case "$line" in
            *"KHIBTEST: PASS "*) pass "${line#*KHIBTEST: PASS }" ;;
            *"KHIBTEST: FAIL "*) fail "${line#*KHIBTEST: FAIL }" ;;
        esac
    done < "$1"
}

# show_log LOG: print the serial log (used on failure).
show_log() {
    echo "----- serial log $1 -----"
    tr -d '\r' < "$1" | tail -n "${LOG_LINES:-200}"
    echo "----- end of serial log -----"
}

# check_exclusion LOG N [M [LABEL]]: the transient kernel left free pages out
# of the image in N saves (khib-save: excluded K free pages, K > 0), they
# were poisoned M times (default N; khib.poison=1: by khib-save and by
# khib-restore), and no save fell back for another reason than
# exclude-free=no.  LABEL: a prefix for the result line.
check_exclusion() {
    tr -d '\r' < "$1" | grep -o 'khib-save: excluded [0-9]* free pages ([0-9]* MiB)' > "$1.excluded" || true
    excluded=$(grep -c 'excluded [1-9]' "$1.excluded" || true)
    poisoned=$(tr -d '\r' < "$1" | grep -c 'poisoned [1-9][0-9]* excluded pages' || true)
    others=$(tr -d '\r' < "$1" | grep 'free pages not excluded' | grep -v 'exclude-free=no' || true)
    log "free pages excluded: $(sed 's/khib-save: excluded //' "$1.excluded" | tr '\n' ';')"
    log "$(tr -d '\r' < "$1" | grep -m 1 -o 'khib-save: excluded .*' || true)"
    if [ "$excluded" = "$2" ] && [ "$poisoned" = "${3:-$2}" ] && [ -z "$others" ]; then
        pass "${4:+$4: }free pages left out of $2 images and poisoned ${3:-$2} times before the saved system ran again"
    else
        fail "${4:+$4: }free pages left out of $excluded images, poisoned $poisoned times, want $2 and ${3:-$2}${others:+; fallback: $others}"
    fi
}

# The restore kernel's command line: confined to the default 192 MiB window,
# like the transient kernel (frontend/hibernate.c transient_cmdline()).
R_BASE="nokaslr memmap=exactmap memmap=640K@0 memmap=191M@1M khib.role=restore"
R_APPEND="$R_BASE khib.image=/dev/vda"

# run_guest_killed LOG PATTERN DELAY KERNEL INITRD APPEND [QEMU ARGS...]: like
# run_guest, but cut the power (SIGKILL to QEMU) DELAY seconds after a line
# matching the extended regular expression PATTERN first shows in the serial
# log.  Returns 0 when the power was cut, 1 when the guest stopped first.
run_guest_killed() {
    klog=$1 kpattern=$2 kdelay=$3
    shift 3
    rm -f "$klog" "$klog.pid"
    run_guest "$klog" "$@" -pidfile "$klog.pid" &
    kbg=$!
    while kill -0 "$kbg" 2>/dev/null; do
        if grep -qE "$kpattern" "$klog" 2>/dev/null; then
            sleep "$kdelay"
            if kill -KILL "$(cat "$klog.pid")" 2>/dev/null; then
                wait "$kbg" || true
                stamp "power cut $kdelay s after /$kpattern/" >> "$klog"
                return 0
            fi
        fi
        sleep 0.1
    done
    wait "$kbg" || true
    return 1
}

# expect LOG TEXT WHAT: pass WHAT if LOG contains TEXT, else fail it.
expect() {
    if grep -qF "$2" "$1"; then pass "$3"; else fail "$3 (no '$2' in the log)"; fi
}

# check_filesystem IMG: fsck -n of an ext4 image, and every record the guest's
# writer appended to /records intact.
check_filesystem() {
    if e2fsck -n -f "$1" > "$1.fsck" 2>&1; then
        pass "fsck -n of the ext4 file system is clean"
    else
        fail "fsck -n of the ext4 file system: $(tail -n 3 "$1.fsck")"
    fi
    rm -f "$1.records"
    debugfs -R "dump /records $1.records" "$1" 2>/dev/null
    if out=$("$KHIB_TOP/build/khib-testload" check-records "$1.records" 2>&1); then
        pass "every record on the file system is intact: $out"
    else
        fail "records on the file system: $out"
    fi
}

# qmp SOCKET COMMAND...: send QMP commands (JSON) to a guest's QMP socket one
# after another, each waiting for its "return"; fails on an "error".
qmp() {
    perl -MIO::Socket::UNIX -e '
        my $s = IO::Socket::UNIX->new(Peer => shift @ARGV) or die "qmp: cannot connect: $!\n";
        my $greeting = <$s>;
        for my $cmd (@ARGV) {
            print $s "$cmd\n";
            while (my $l = <$s>) {
                next if $l =~ /"event"/;
                die "qmp: $cmd: $l" if $l =~ /"error"/;
                last if $l =~ /"return"/;
            }
        }' "$@"
}

# wait_line LOG TEXT PID SECONDS [COUNT]: until LOG has TEXT (on COUNT
# lines, default 1); 1 if PID ends or time is up.
wait_line() {
    n=0
    while :; do
        c=$(grep -cF "$2" "$1" 2>/dev/null) || true
        [ "${c:-0}" -lt "${5:-1}" ] || return 0
        kill -0 "$3" 2>/dev/null || return 1
        n=$((n + 1))
        [ "$n" -le $(($4 * 5)) ] || return 1
        sleep 0.2
    done
}

# qmp_status SOCKET: the guest's run state from QMP query-status
# ("running", "suspended", ...).
qmp_status() {
    perl -MIO::Socket::UNIX -e '
        my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "qmp: cannot connect: $!\n";
        <$s>;
        print $s qq({"execute":"qmp_capabilities"}\n);
        while (my $l = <$s>) { last if $l =~ /"return"/; }
        print $s qq({"execute":"query-status"}\n);
        while (my $l = <$s>) { if ($l =~ /"status": *"([a-z-]+)"/) { print "$1\n"; last; } }' "$1"
}

# phase NAME START END: one line of a phase table (times from at), "n/a"
# when either is missing.
phase() {
    if [ -n "$2" ] && [ -n "$3" ]; then
        awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "  %-28s %7.1f s\n", n, b - a }'
    else
        printf '  %-28s %9s\n' "$1" "n/a"
    fi
}

# at LOG TEXT: the host time (seconds) of the first serial line holding TEXT.
at() {
    grep -F -m 1 -- "$2" "$1" | sed -n 's/^\[\([0-9.]*\)\].*/\1/p'
}
