#!/bin/sh
# The soak (docs/reliability.md): one Debian 12 guest (the distro scenario's
# bookworm disk, tests/qemu/distro/image.sh, under a qcow2 overlay kept for
# the whole run) with the distro scenario's workload (sqlite writer, 320 MiB
# memory pattern, TCP pair, journald) hibernates again and again with
# `systemctl hibernate`, through the ordinary boot entry as a user would:
#   KHIB_SOAK_CYCLES (default 20) cycles in a row: hibernate, power off,
#     resume; each resume verified in the guest, the phase times of each
#     cycle and their spread printed;
#   KHIB_SOAK_CUTS (default 50) power cuts at seeded random moments, round
#     the places of docs/reliability.md (A's preparation after its last line,
#     B's boot, the save, its index and commit, the power-off, R's boot, the
#     restore, the CONSUMED write, the jump back): a timed cut falls at a
#     random delay after the phase's first serial line (host timestamps), a
#     cut in a step too short to hit by time at one of its fault points
#     (khib.test.stop=, docs/failures.md).  After each cut the host reads
#     the disk as the cut left it (image state; root fsck-clean after its
#     journal replay; the database intact and gapless up to at least the
#     commit reported before `systemctl hibernate`), and the next boot must
#     resume and verify when the image was COMMITTED at the cut, and boot
#     normally and find the database so otherwise; a boot that hangs fails.
# Boots are chained: the boot after a cut, whatever its outcome, runs the
# next step.  Then the host checks the final disk.  The last line counts one
# result per cycle and per cut, the install and the final disk checks.
#
# Usage: tests/qemu/soak.sh [--sample]     (make soak; root, like distro)
#   --sample            6 cuts and no cycle: one in the superblock commit,
#                       one in the CONSUMED write, one in the restore, three
#                       other seeded ones (the make check candidate)
#   KHIB_SOAK_SEED=N    the plan's seed (printed; default random)
#   KHIB_SOAK_REPLAY='SLOT:DELAY SLOT:POINT ...'   these cuts, as printed
#                       after each cut (no cycles unless KHIB_SOAK_CYCLES)
#   KHIB_SOAK_SPAN_<SLOT>=SECONDS   a timed phase's window (soak/lib.sh)
#   KHIB_KEEP=1         keep the work directory (logs, overlay)
# The first run installs khib in the guest (a boot) and keeps that disk in
# $KHIB_CACHE/soak, keyed by the .deb's files, the base disk and the driver.
QEMU_TIMEOUT=${QEMU_TIMEOUT:-900}
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib/common.sh disable=SC1091 # followed by shellcheck -x
. "$(dirname "$0")/lib/common.sh"
set -eu
SOAK=$KHIB_TOP/tests/qemu/soak
DISTRO=$KHIB_TOP/tests/qemu/distro
# shellcheck source=soak/lib.sh disable=SC1091 # followed by shellcheck -x
. "$SOAK/lib.sh"
GUEST_MEM=${GUEST_MEM:-1G}
export GUEST_MEM

sample=
case "${1:-}" in
    --sample) sample=1 ;;
    "") ;;
    *) echo "usage: tests/qemu/soak.sh [--sample]" >&2; exit 2 ;;
esac
REPLAY=${KHIB_SOAK_REPLAY:-}
if [ -n "$sample" ] || [ -n "$REPLAY" ]; then CYCLES=${KHIB_SOAK_CYCLES:-0}; else CYCLES=${KHIB_SOAK_CYCLES:-20}; fi
CUTS=${KHIB_SOAK_CUTS:-$([ -n "$sample" ] && echo 6 || echo 50)}
SEED=${KHIB_SOAK_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
SEED=$((SEED % 2147483648))

if [ "$(id -u)" != 0 ] || ! command -v debootstrap > /dev/null 2>&1 || ! command -v sqlite3 > /dev/null 2>&1; then
    fail "soak needs root, debootstrap and sqlite3 (make deps)"
    finish
    exit 1
fi
T0=$(date +%s)
kernel=$(test_kernel) || { fail "no test kernel"; finish; exit 1; }
make -s -C "$KHIB_TOP" all build/khib-testload >&2 || { fail "make"; finish; exit 1; }
version=$(dpkg-parsechangelog -l "$KHIB_TOP/debian/changelog" -S Version)
deb=$KHIB_TOP/build/khib_${version}_$(dpkg --print-architecture).deb
if ! make -s -C "$KHIB_TOP" deb > /dev/null 2>&1 || [ ! -s "$deb" ]; then fail "make deb (run it to see why)"; finish; exit 1; fi
base=$(sh "$DISTRO/image.sh" bookworm "$kernel") || { fail "the bookworm disk could not be built"; finish; exit 1; }
work=$(mktemp -d /var/tmp/khib-soak.XXXXXX)
if [ -z "${KHIB_KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else log "keeping $work"; fi

# --- the plan -----------------------------------------------------------------
rand_seed "$SEED"
make_plan "$CYCLES" "$CUTS" "$sample" "$REPLAY" > "$work/plan"
N=$(awk 'END { print $1 + 0 }' "$work/plan")
if [ -n "$REPLAY" ]; then echo "soak: KHIB_SOAK_REPLAY='$REPLAY': $CYCLES cycles, $((N - CYCLES)) cuts"; else
    echo "soak: seed $SEED (KHIB_SOAK_SEED=$SEED${sample:+ with --sample} replays this plan): $CYCLES cycles, $((N - CYCLES)) cuts"
fi
awk '$2 != "cycle" { printf "soak: step %d: %s%s\n", $1, $2, ($3 != "-" ? " at fault point " $3 : " +" $4 " s") }' "$work/plan"

# --- the control disk: the driver, the distro scenario's workload -----------------
ctl=$work/ctl
mkdir -p "$ctl/units"
cp "$SOAK/guest/run.sh" "$DISTRO/guest/lib.sh" "$DISTRO/guest/sqlite-writer.sh" "$KHIB_TOP/build/khib-testload" "$ctl/"
cp "$DISTRO"/guest/units/*.service "$ctl/units/"
cp "$deb" "$ctl/khib.deb"
awk '{ print $1, ($2 == "cycle" ? "cycle" : "cut"), $3 }' "$work/plan" > "$ctl/plan"
# The restore kernel's fault points: one archive per point, a second initrd
# of GRUB's one-shot entry (guest/run.sh): khib.conf with the point in
# restore-append=, over the initramfs's own.
for point in restore-validated restore-half-memory restore-before-consumed restore-consumed restore-before-jump; do
    a=$work/cpio-$point
    mkdir -p "$a/etc"
    printf 'target=/dev/vda3\nappend=console=ttyS0\nrestore-append=khib.poison=1 khib.test.stop=%s\n' "$point" > "$a/etc/khib.conf"
    (cd "$a" && printf 'etc\netc/khib.conf\n' | cpio -o -H newc --quiet > "$ctl/soak-$point.cpio")
done
tar -C "$ctl" -cf "$work/ctl.tar" . || { fail "control disk"; finish; exit 1; }
ctl_drive="file=$work/ctl.tar,format=raw,if=virtio,readonly=on"

# --- the installed disk (cached) ------------------------------------------------
cache=$KHIB_CACHE/soak
mkdir -p "$cache"
# deb_files: what the package installs, file by file (the .deb's own bytes
# change with its files' times at every build; its documentation, and the
# md5sums that cover it, do not change the installed system's behaviour).
deb_files() {
    x=$work/deb-files
    rm -rf "$x"
    dpkg-deb -R "$deb" "$x"
    (cd "$x" && find . -type f ! -path './usr/share/doc/*' ! -path ./DEBIAN/md5sums -exec sha256sum {} + | LC_ALL=C sort -k2)
    rm -rf "$x"
}
key=$({ deb_files; cat "$SOAK/guest/run.sh" "$DISTRO/guest/lib.sh" "$ctl"/soak-*.cpio; } | sha256sum |
    { read -r h _; echo "$base $h"; } | sha256sum | cut -c1-16)
installed=$cache/bookworm-installed-$key.qcow2
if [ -f "$installed" ]; then
    pass "khib installed in the guest (cached: $installed)"
else
    rm -f "$installed.tmp"
    qemu-img create -q -f qcow2 -F raw -b "$base" "$installed.tmp"
    run_guest "$work/install.log" "" "" "" -drive "file=$installed.tmp,format=qcow2,if=virtio" -drive "$ctl_drive" || true
    if grep -q "KHIBTEST: INFO installed" "$work/install.log" && ! grep -q "KHIBTEST: FAIL" "$work/install.log"; then
        # Older installs go, unless a soak of another tree boots one now
        # (it holds a shared lock on it, below).
        for f in "$cache"/bookworm-installed-*.qcow2; do [ ! -f "$f" ] || flock -n -x "$f" rm -f "$f" || true; done
        mv "$installed.tmp" "$installed"
        pass "khib installed in the guest ($(span_of "$work/install.log") s; kept in $installed)"
    else
        fail "installing khib in the guest"
        show_log "$work/install.log"
        finish
        exit 1
    fi
fi
# Every boot opens the installed disk again (the overlay's backing file).
exec 8< "$installed"
flock -s 8
disk=$work/disk.qcow2
qemu-img create -q -f qcow2 -F qcow2 -b "$installed" "$disk"
disk_drive="file=$disk,format=qcow2,if=virtio"

# --- the runs -------------------------------------------------------------------
# boot NAME [ANCHOR MARKER DELAY]: one run of the guest, its log
# $work/NAME.log; with MARKER, cut the power DELAY s after it (cut.pl):
# CUT_AT "MARKER_TIME CUT_TIME", empty when QEMU ended first.  RUN_RC:
# QEMU's status (124: it hung until QEMU_TIMEOUT).  A boot whose kernel lost
# a CPU's timer before khib's first line (lost-timer.pl, an emulator fault)
# is ended and run again, once; LOST_TIMERS counts them.
LOST_TIMERS=0
boot() {
    boot_once "$@"
    [ -f "$work/$1.log.lost-timer" ] || return 0
    mv "$work/$1.log" "$work/$1.lost-timer.log"
    rm -f "$work/$1.log.lost-timer"
    LOST_TIMERS=$((LOST_TIMERS + 1))
    log "$1: the guest's kernel lost CPU 1's timer before khib's first line (RCU: \"timer wakeup didn't happen\"; docs/reliability.md): that boot ended, booting again"
    boot_once "$@"
    [ ! -f "$work/$1.log.lost-timer" ] || RUN_RC=124
}
boot_once() {
    blog=$work/$1.log
    CUT_AT=
    rm -f "$blog" "$blog.pid" "$blog.rc"
    # "|| true": set -e off inside run_guest, which then records QEMU's
    # status in $blog.rc (as tests/qemu/faults.sh does).
    run_guest "$blog" "" "" "" -drive "$disk_drive" -drive "$ctl_drive" -pidfile "$blog.pid" || true &
    bpid=$!
    perl "$SOAK/lost-timer.pl" "$blog" "$blog.pid" &
    wpid=$!
    if [ $# -gt 1 ]; then
        CUT_AT=$(perl "$SOAK/cut.pl" "$blog" "$blog.pid" "$2" "$3" "$4") || CUT_AT=
    fi
    wait "$bpid" || true
    wait "$wpid" || true
    RUN_RC=$(cat "$blog.rc" 2>/dev/null || echo 1)
    [ -z "$CUT_AT" ] || stamp "power cut: ${CUT_AT#* } (marker /$3/ at ${CUT_AT% *}, +$4 s)" >> "$blog"
}

# What each step is waiting for: its outcome shows at the start of the next
# run.  PENDING_*: the step, what its cut left, the verdict so far.
PENDING=0 PENDING_WHAT='' PENDING_EXPECT='' PENDING_NOTE='' PENDING_BAD='' PENDING_HLOG='' PENDING_DISK='' PENDING_SLOT=''
CYCLES_OK=0 CYCLES_BAD=0 CUTS_OK=0 CUTS_BAD=0
: > "$work/phases"
: > "$work/outcomes"

# judge LOG: the outcome of step PENDING, from the start of LOG.
judge() {
    [ "$PENDING" -gt 0 ] || return 0
    section "$1" "$PENDING" > "$work/section"
    got=$(sed -n "s/.*KHIBTEST: INFO soak-outcome $PENDING \([a-z]*\).*/\1/p" "$work/section" | head -n 1)
    resumes=$(grep -c "khib: resumed from image" "$work/section" || true)
    bad=$PENDING_BAD
    # The guest goes on to the next step (or the end) once it has checked
    # this one; a run that hung before is this step's failure, one that hung
    # after it the next step's.
    if ! grep -q "KHIBTEST: INFO \(soak-step $((PENDING + 1)) \|done\)" "$work/section"; then
        bad="$bad; the guest did not go on to the next step"
        [ "$RUN_RC" != 124 ] || bad="$bad; the boot hung (no end in $QEMU_TIMEOUT s)"
    fi
    [ "$got" = "$PENDING_EXPECT" ] || bad="$bad; outcome '${got:-none}', expected '$PENDING_EXPECT'"
    case "$PENDING_EXPECT" in
        resumed) [ "$resumes" = 1 ] || bad="$bad; $resumes resumes on the console, expected 1" ;;
        normal) [ "$resumes" = 0 ] || bad="$bad; the console says it resumed" ;;
    esac
    fails=$(grep "KHIBTEST: FAIL" "$work/section" | sed 's/^\[[0-9.]*\] /    /' || true)
    [ -z "$fails" ] || bad="$bad; the guest's checks failed"
    if [ "$PENDING_WHAT" = cycle ]; then
        if [ -z "$bad" ]; then CYCLES_OK=$((CYCLES_OK + 1)); pass "cycle $PENDING: hibernated, powered off, resumed, verified"; else
            CYCLES_BAD=$((CYCLES_BAD + 1)); fail "cycle $PENDING:${bad#;}"
        fi
        cycle_phases "$PENDING_HLOG" "$1" "$PENDING"
    else
        case "$PENDING_NOTE" in *"before the cut"*) late=late ;; *) late= ;; esac
        echo "$PENDING_SLOT ${got:-none} $late" >> "$work/outcomes"
        if [ -z "$bad" ]; then CUTS_OK=$((CUTS_OK + 1)); pass "cut $PENDING ($PENDING_NOTE): $got${PENDING_DISK:+, $PENDING_DISK}"; else
            CUTS_BAD=$((CUTS_BAD + 1)); fail "cut $PENDING ($PENDING_NOTE):${bad#;}"
        fi
    fi
    [ -z "$fails" ] || printf '%s\n' "$fails"
    [ -z "$bad" ] || { show_log "$1"; [ -z "$PENDING_HLOG" ] || [ "$PENDING_HLOG" = "$1" ] || LOG_LINES=60 show_log "$PENDING_HLOG"; }
    PENDING=0
}

# cycle_phases HLOG RLOG K: one line of phase times (s) from the run that
# hibernated (HLOG) and the one that resumed (RLOG); also to $work/phases.
cycle_phases() {
    h=$(after "$1" "" "soak-step $3 hibernating")
    jumping=$(after "$1" "soak-step $3 hibernating" "khib: hibernating ")
    binit=$(after "$1" "soak-step $3 hibernating" "khib-init: transient kernel")
    saved=$(after "$1" "soak-step $3 hibernating" "image saved: powering off")
    off=$(after "$1" "soak-step $3 hibernating" "qemu exit")
    r0=$(after "$2" "" "qemu start")
    hook=$(after "$2" "" "khib: resuming the hibernated system")
    rinit=$(after "$2" "" "khib-init: restore kernel")
    rjump=$(after "$2" "" "khib-restore: jumping")
    resumed=$(after "$2" "" "khib: resumed from image")
    echo "$3 ${h:-?} ${jumping:-?} ${binit:-?} ${saved:-?} ${off:-?} ${r0:-?} ${hook:-?} ${rinit:-?} ${rjump:-?} ${resumed:-?}" |
        awk '{ for (i = 2; i <= 11; i++) if ($i == "?") { print $1, "? ? ? ? ? ? ? ? ?"; exit }
            printf "%d %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f %.1f\n", $1, $3 - $2, $4 - $3, $5 - $4, $6 - $5,
                $8 - $7, $9 - $8, $10 - $9, $11 - $10, ($6 - $2) + ($11 - $7) }' >> "$work/phases"
    tail -n 1 "$work/phases" | awk '{ printf "  cycle %d (s): hibernate prep %s, jump + B boot %s, save %s, power-off %s, ordinary boot to the hook %s, kexec + R boot %s, restore %s, resume %s; total %s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
}

# after_cut K REPORTED: the disk as the cut left it; sets PENDING_*.
after_cut() {
    disk_check "cut $1" "$disk" "$base" "$2" "$work/disk-$1" > "$work/disk-$1.out"
    cat "$work/disk-$1.out"
    PENDING_DISK="image $DISK_STATE at the cut, root fsck clean after the journal replay, rows 1..$DISK_MAX gapless (>= $2)"
    [ -n "$DISK_OK" ] || PENDING_BAD="$PENDING_BAD; the disk at the cut: $(tr '\n' ' ' < "$work/disk-$1.out")"
    case "$DISK_STATE" in
        COMMITTED) PENDING_EXPECT=resumed ;;
        *) PENDING_EXPECT=normal ;;
    esac
}

stopped=
k=1
while [ "$k" -le "$N" ] && [ -z "$stopped" ]; do
    # shellcheck disable=SC2046 # "SLOT POINT DELAY"
    set -- $(sed -n "s/^$k //p" "$work/plan")
    slot=$1 point=$2 delay=$3
    ts=$(date +%s)
    if [ "$slot" = cycle ]; then
        boot "run-$k"
        judge "$work/run-$k.log"
        PENDING=$k PENDING_WHAT=cycle PENDING_EXPECT=resumed PENDING_BAD='' PENDING_HLOG=$work/run-$k.log
        if [ "$RUN_RC" != 0 ] || ! grep -q "image saved: powering off" "$work/run-$k.log"; then
            PENDING_BAD="; hibernation $k did not save and power off (QEMU exit $RUN_RC)"
            [ "$RUN_RC" != 124 ] || stopped=$k
        fi
    else
        slot_info "$slot"
        if [ "$point" != - ]; then cut_marker="khib-test: stopped at $point\$" delay=0; else cut_marker=$MARKER; fi
        if [ "$SIDE" = save ]; then
            boot "run-$k" "KHIBTEST: INFO soak-step $k hibernating" "$cut_marker" "$delay"
            judge "$work/run-$k.log"
            PENDING_BAD='' PENDING_HLOG='' PENDING_DISK=''
            clog=$work/run-$k.log
        else
            # The hibernation runs to its power-off; the next boot is cut.
            boot "run-$k"
            judge "$work/run-$k.log"
            PENDING_BAD='' PENDING_HLOG='' PENDING_DISK=''
            if [ "$RUN_RC" != 0 ] || ! grep -q "image saved: powering off" "$work/run-$k.log"; then
                PENDING=$k PENDING_WHAT=cut PENDING_SLOT=$slot PENDING_NOTE="$slot: not reached"
                PENDING_BAD="; hibernation $k did not save and power off (QEMU exit $RUN_RC)"
                [ "$RUN_RC" != 124 ] || { stopped=$k; break; }
            fi
            boot "cut-$k" "" "$cut_marker" "$delay"
            clog=$work/cut-$k.log
        fi
        reported=$(sed -n "s/.*KHIBTEST: INFO sqlite-committed \([0-9]*\).*/\1/p" "$work/run-$k.log" | tail -n 1)
        PENDING=$k PENDING_WHAT=cut PENDING_SLOT=$slot
        replay="$slot:$([ "$point" != - ] && echo "$point" || echo "$delay")"
        if [ -n "$CUT_AT" ]; then
            where=$(landed "$clog" "${CUT_AT#* }")
            if [ "$point" != - ]; then moment="at $point"; else
                moment=$(echo "$CUT_AT" | awk -v d="$delay" '{ printf "+%.3f s (planned +%s) after the marker", $2 - $1, d }')
            fi
            PENDING_NOTE="$slot, $moment, landed in $where; KHIB_SOAK_REPLAY=$replay"
        else
            PENDING_NOTE="$slot: QEMU ended before the cut (planned ${point#-}${delay#-}); KHIB_SOAK_REPLAY=$replay"
            [ "$RUN_RC" = 0 ] || PENDING_BAD="$PENDING_BAD; QEMU exit $RUN_RC before the cut"
        fi
        [ "$RUN_RC" != 124 ] || stopped=$k
        log "step $k: $PENDING_NOTE"
        after_cut "$k" "${reported:-0}"
    fi
    echo "$k $slot $(($(date +%s) - ts))" >> "$work/walltimes"
    k=$((k + 1))
done
if [ -z "$stopped" ]; then
    boot final
    judge "$work/final.log"
    if grep -q "KHIBTEST: INFO done" "$work/final.log"; then
        reported=$(sed -n "s/.*KHIBTEST: INFO sqlite-committed \([0-9]*\).*/\1/p" "$work/run-$N.log" | tail -n 1)
        final=$(sed -n "s/.*KHIBTEST: INFO sqlite-final \([0-9]*\).*/\1/p" "$work/final.log" | tail -n 1)
        disk_check "the final disk" "$disk" "$base" "${reported:-0}" "$work/disk-final" > "$work/disk-final.out"
        cat "$work/disk-final.out"
        if [ -n "$DISK_OK" ] && [ "$DISK_MAX" = "${final:-x}" ]; then
            pass "the final disk: root fsck clean, sqlite intact, rows 1..$DISK_MAX gapless, every row the guest committed"
        else
            fail "the final disk: rows ${DISK_MAX}, the guest's last ${final:-?} $(tr '\n' ' ' < "$work/disk-final.out")"
        fi
    else
        fail "the last boot did not end the plan"
        show_log "$work/final.log"
    fi
else
    # The step whose run hung has no next boot to show its outcome.
    RUN_RC=124
    judge /dev/null
    fail "a boot hung: the soak stopped at step $stopped of $N"
fi

# --- figures ----------------------------------------------------------------------
echo "soak: seed $SEED; $((N - CYCLES)) cuts planned, $CYCLES cycles"
if [ -s "$work/phases" ]; then
    echo "soak: phase times over $(wc -l < "$work/phases") cycles, min / median / max (s):"
    i=2
    for name in "hibernate prep" "jump + B boot" "save" "power-off" "ordinary boot to the hook" "kexec + R boot" \
        "restore" "resume" "total (the time powered off excluded)"; do
        printf '  %-40s %s\n' "$name" "$(spread "$work/phases" "$i")"
        i=$((i + 1))
    done
    echo "  wall time per cycle (s, host): $(awk '$2 == "cycle"' "$work/walltimes" > "$work/wc"; spread "$work/wc" 3)"
fi
if [ -s "$work/outcomes" ]; then
    echo "soak: cuts by place and outcome (resumed / normal boot / other):"
    awk '{ n[$1]++; o[$1 " " $2]++ }
        END { for (s in n) printf "  %-9s %2d cuts: %d resumed, %d normal boot, %d other\n", s, n[s], o[s " resumed"], o[s " normal"], n[s] - o[s " resumed"] - o[s " normal"] }' \
        "$work/outcomes" | sort
    awk '{ o[$2]++; if ($3 == "late") l++ } END { printf "  all       %2d cuts: %d resumed, %d normal boot; %d of them came after QEMU had ended (a power-off faster than the moment)\n", NR, o["resumed"], o["normal"], l }' "$work/outcomes"
    echo "  wall time per cut (s, host, with the disk checks): $(awk '$2 != "cycle"' "$work/walltimes" > "$work/wc"; spread "$work/wc" 3)"
fi
echo "soak: cycles $CYCLES_OK passed, $CYCLES_BAD failed; cuts $CUTS_OK passed, $CUTS_BAD failed; boots run again after the emulator lost a timer: $LOST_TIMERS; $(( $(date +%s) - T0 )) s"
finish
