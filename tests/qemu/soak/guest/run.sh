#!/bin/sh
# The soak's driver inside the Debian guest (tests/qemu/soak.sh), started at
# every normal boot by khibtest.service from the control disk (the disk's
# /usr/local/sbin/khibtest-control unpacks /dev/vdb into $C and runs this).
# A resumed system never starts it again: it carries on in the loop below,
# right after its `systemctl hibernate`.
#
# One guest disk lives through the whole soak.  Its state ($Q/state):
#   (none)          first boot: install khib's .deb and configure it as
#                   tests/qemu/distro/guest/run.sh does, then power off (the
#                   host keeps the installed disk for later soaks);
#   installed       start the workload, then run the plan from step 1;
#   hibernating K   a normal boot after step K's hibernation (a power cut
#                   left no committed image, or consumed it): check what a
#                   normal boot must find (no committed image, the database
#                   intact and gapless up to at least the commit reported
#                   before `systemctl hibernate`), start the workload again
#                   and go on with step K+1;
#   done            the plan ran out: nothing to do.
# The plan ($C/plan, written by the host): one line "K KIND POINT" per step;
# POINT "-" or a fault point of docs/failures.md: save-* goes on the
# transient kernel's command line (append= in khib.conf), restore-* on the
# restore kernel's, for one boot only: GRUB's one-shot entry soak-POINT,
# which boots the ordinary kernel and initramfs plus a small archive whose
# khib.conf adds the point to restore-append= (the hook gives R that line).
# Results: "KHIBTEST: PASS|FAIL ..." on the console; "KHIBTEST: INFO ..."
# lines carry the figures and the step markers the host cuts by.
set -u
exec > /dev/console 2>&1
# The distro scenario's guest helpers (tests/qemu/distro/guest/lib.sh, on
# the control disk as lib.sh): C (the control disk's files), S (the state
# the host reads), pass, fail, info, check, quiet, stop (power off).
# shellcheck source-path=SCRIPTDIR source=../../distro/guest/lib.sh
. "$(dirname "$0")/lib.sh"
Q=$S/soak                       # this driver's state, across boots

# --- first boot: install and configure, as tests/qemu/distro/guest/run.sh ----
install_khib() {
    mkdir -p "$Q"
    if apt-get install -y -q --no-install-recommends "$C/khib.deb" > "$Q/install.log" 2>&1; then
        pass "apt-get install ./khib.deb"
    else
        fail "apt-get install ./khib.deb: $(tail -n 5 "$Q/install.log" | tr '\n' ' ')"
        stop
    fi
    # restore-append=khib.poison=1: R poisons the pages the image left out as
    # free, so that a page wrongly left out breaks the checks after a resume.
    sed -i -e 's|^#target=.*|target=/dev/vda3|' -e 's|^#append=.*|append=console=ttyS0|' \
        -e 's|^#restore-append=.*|restore-append=khib.poison=1|' /etc/khib.conf
    check "khib.conf: target, console, poison" sh -c 'grep -qx "target=/dev/vda3" /etc/khib.conf &&
        grep -qx "append=console=ttyS0" /etc/khib.conf && grep -qx "restore-append=khib.poison=1" /etc/khib.conf'
    check "update-initramfs -u" quiet update-initramfs -u
    check "update-grub" quiet update-grub
    # GRUB's one-shot entries for the restore kernel's fault points: the
    # ordinary entry (the first menuentry of grub.cfg) with a second initrd,
    # the host's archive holding a khib.conf that arms POINT in R.  Debian's
    # 41_custom sources custom.cfg at boot: no update-grub needed.
    : > /boot/grub/custom.cfg
    for a in "$C"/soak-restore-*.cpio; do
        [ -f "$a" ] || continue
        p=$(basename "$a" .cpio)
        cp "$a" "/boot/$p.cpio"
        awk -v id="$p" -v extra="/boot/$p.cpio" '
            !done && /^menuentry / { on = 1; print "menuentry \"" id "\" --id " id " {"; next }
            on && /^}/ { print "}"; on = 0; done = 1; next }
            on && /^[[:space:]]*initrd[[:space:]]/ { print $0 " " extra; next }
            on { print }' /boot/grub/grub.cfg >> /boot/grub/custom.cfg
    done
    check "GRUB's one-shot entries for the restore kernel's fault points ($(grep -c '^menuentry' /boot/grub/custom.cfg))" \
        sh -c '! grep -q "^menuentry" /boot/grub/custom.cfg || grep -q "initrd.* /boot/soak-restore-" /boot/grub/custom.cfg'
    khib check > "$Q/check.log" 2>&1
    rc=$?
    check "khib check passes (exit $rc)" test "$rc" = 0
    grep -v '^PASS' "$Q/check.log" | sed 's/^/    /'
    # logind takes khib's drop-in when it starts (docs/systemd.md): the
    # workload starts at the next boot.
    echo installed > "$Q/state"
    info "installed"
    stop
}

# --- the workload, under systemd (the distro scenario's units) ---------------
start_workload() {
    mkdir -p /run/systemd/system
    cp "$C"/units/*.service /run/systemd/system/
    systemctl daemon-reload
    # shellcheck disable=SC2086 # the unit list
    systemctl start $W
    n=0
    until [ -s /run/khibtest/mem/ready ] && [ -s /run/khibtest/tcp/tcp ] &&
        [ "$(sqlite3 "$DB" 'SELECT count(*) FROM t' 2>/dev/null || echo 0)" -ge "$(( ${1:-0} + 20 ))" ]; do
        n=$((n + 1))
        [ "$n" -lt 600 ] || break
        sleep 0.5
    done
    for u in $W; do
        check "$u is active" quiet systemctl is-active "$u"
    done
}

# --- the normal boot after a cut ----------------------------------------------
normal_outcome() {
    k=$1
    st=$(img_state)
    reported=$(cat "$Q/reported" 2>/dev/null || echo 0)
    info "soak-outcome $k normal image-state ${st:-none}"
    check "step $k: a normal boot finds no committed image (state ${st:-none})" test "$st" != COMMITTED
    # Before the writer starts again: what the cut left.
    ic=$(sqlite3 "$DB" "PRAGMA integrity_check" 2>&1)
    check "step $k: sqlite integrity_check after the normal boot: $ic" test "$ic" = ok
    rows
    check "step $k: rows $MIN..$MAX gapless ($COUNT rows), at least the $reported reported before the hibernation" \
        test "$MIN" = 1 -a "$MAX" = "$COUNT" -a "$MAX" -ge "$reported"
    info "soak-normal $k rows $MAX reported $reported"
    state=$(systemctl is-system-running --wait 2>&1)
    check "step $k: the normal boot runs (is-system-running: $state)" test "$state" = running
}

# --- after a resume -------------------------------------------------------------
verify_resume() {
    k=$1
    system_checks "step $k" systemd-hibernate.service
    workload_checks "step $k" "$Q" "$(cat "$Q/reported")"
    st=$(img_state)
    check "step $k: the image is CONSUMED ($st)" test "$st" = CONSUMED
}

# --- one step: arm its fault point, hibernate, come back --------------------------
# checkpoint: GRUB reads grubenv from its home blocks and replays no journal;
# freezing the file system writes the journal home (as khib's boot_arm does,
# frontend/bootentry.c boot_checkpoint()).
checkpoint() { sync && fsfreeze -f / && fsfreeze -u /; }

hibernate_step() {
    k=$1
    # shellcheck disable=SC2046 # "KIND POINT"
    set -- $(sed -n "s/^$k //p" "$C/plan")
    kind=${1:-?} point=${2:--}
    append="console=ttyS0"
    case "$point" in save-*) append="$append khib.test.stop=$point" ;; esac
    sed -i "s|^append=.*|append=$append|" /etc/khib.conf
    case "$point" in
        restore-*)
            if grub-editenv /boot/grub/grubenv set "next_entry=soak-$point" && checkpoint; then pass "step $k: GRUB's next boot is soak-$point, once"; else
                fail "step $k: grub-editenv set next_entry=soak-$point"
            fi
            ;;
    esac
    for u in $W; do mainpid "$u" > "$Q/$u.pid"; done
    counter /run/khibtest/tcp/tcp > "$Q/tcp.before"
    rows
    echo "$MAX" > "$Q/reported"
    echo "hibernating $k" > "$Q/state"
    sync
    info "sqlite-committed $MAX"
    info "soak-step $k hibernating $kind $point"
    systemctl hibernate || fail "step $k: systemctl hibernate exit $?"
    # activating while khib runs (the save, the power-off, the restore), then
    # inactive (or failed) once khib hibernate has returned after the resume.
    n=0
    while :; do
        a=$(systemctl show -P ActiveState systemd-hibernate.service)
        case "$a" in inactive|failed) [ "$n" -gt 4 ] && break ;; esac
        n=$((n + 1))
        [ "$n" -lt 2400 ] || { fail "step $k: systemd-hibernate.service never finished ($a)"; break; }
        sleep 0.25
    done
    info "soak-outcome $k resumed"
    verify_resume "$k"
}

# run_from K: the plan's steps from K on, then the end.
run_from() {
    k=$1
    last=$(awk 'END { print $1 + 0 }' "$C/plan")
    while [ "$k" -le "$last" ]; do
        hibernate_step "$k"
        k=$((k + 1))
    done
    # shellcheck disable=SC2086 # the unit list
    systemctl stop $W
    rows
    info "sqlite-final $MAX $COUNT"
    echo 'done' > "$Q/state"
    stop
}

state=$(cat "$Q/state" 2>/dev/null)
info "system up (state: ${state:-new})"
case "$state" in
    "") install_khib ;;
    installed)
        st=$(systemctl is-system-running --wait 2>&1)
        check "the system runs with khib installed (is-system-running: $st)" test "$st" = running
        start_workload 0
        run_from 1
        ;;
    "hibernating "*)
        k=${state#hibernating }
        normal_outcome "$k"
        start_workload "${MAX%%[!0-9]*}"
        run_from $((k + 1))
        ;;
    done) fail "booted again after the end"; stop ;;
    *) fail "unknown state $state"; stop ;;
esac
