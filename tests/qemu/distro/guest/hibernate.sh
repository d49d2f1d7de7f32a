#!/bin/sh
# The guest driver's second part (tests/qemu/distro.sh), run by run.sh on
# the boot after the install: logind's answers, the workload, two
# `systemctl hibernate` cycles verified after each resume, the purge.
set -u
exec > /dev/console 2>&1
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
echo hibernating > "$S/phase"
sync
memmap_info
# A's console stays on through its device suspend, each device's callback
# with its time (kernel/power/main.c pm_print_times), up to machine_kexec()
# (distro.sh, jump_split).
echo N > /sys/module/printk/parameters/console_suspend
echo 1 > /sys/power/pm_print_times

# khib-retire.service ran at this boot (enabled by the package) and found
# nothing to retire without opening the target for writing, which the
# test kernel refuses for a device whose file system is mounted (an image
# file on the root: lib/image.c, khib_image_abandon_at()).
r=$(systemctl show -P Result khib-retire.service)
a=$(systemctl show -P ActiveState khib-retire.service)
check "khib-retire.service ran at boot and succeeded ($a, Result=$r)" test "$a $r" = "active success"

# --- this boot's hook, in the initramfs of the ordinary entry ------------------
if [ "$(cat "$S/expect" 2>/dev/null)" = refuse ]; then
    st=$(img --info | sed -n 's/^state: *//p')
    why=$(img --info | sed -n 's/^abandoned: *[^(]*(\(.*\))$/\1/p')
    check "the refused image was retired at boot, before the disks were mounted: $st ($why)" \
        test "$st" = ABANDONED -a "$why" = "a normal boot started: the image was refused (khib-restore --resumable exit 3)"
    rm -f "$S/expect"
fi
# What the hook costs a boot without an image: the same script with the same
# target, run here 20 times (the image is not COMMITTED: it never kexecs),
# and the check alone (khib-restore --resumable) 20 times.
if ! img --info | grep -q '^state: *COMMITTED'; then
    t0=$(date +%s%N)
    i=0
    while [ "$i" -lt 20 ]; do sh /usr/lib/khib/khib-resume.sh; i=$((i + 1)); done
    t1=$(date +%s%N)
    i=0
    while [ "$i" -lt 20 ]; do img --resumable 2> /dev/null; i=$((i + 1)); done
    t2=$(date +%s%N)
    # nanoseconds for 20 runs -> milliseconds per run, one decimal
    info "hook-cost-ms $(( (t1 - t0) / 20000000 )).$(( (t1 - t0) / 2000000 % 10 )) check-ms $(( (t2 - t1) / 20000000 )).$(( (t2 - t1) / 2000000 % 10 ))"
fi

# khib-logind.path reruns `khib check --logind` when khib.conf or grub.cfg
# changes, and logind re-reads its sleep configuration at every call
# (docs/systemd.md): the answer follows within seconds.
n=0
until answer=$(logind CanHibernate) && [ "$answer" = yes ] || [ "$n" -ge 120 ]; do
    n=$((n + 1))
    sleep 0.5
done
check "CanHibernate is yes after the reboot, khib check passing: $answer" test "$answer" = yes
# hybrid-sleep is khib hibernate --hybrid and follows the check like
# hibernation (tests/qemu/hybrid.sh runs it: it needs S3, which these guests'
# machine leaves off); suspend-then-hibernate stays refused.
answer=$(logind CanHybridSleep)
check "CanHybridSleep is yes: khib's suspend-to-both ($answer)" test "$answer" = yes
answer=$(logind CanSuspendThenHibernate)
check "CanSuspendThenHibernate is no: khib refuses it ($answer)" sh -c "[ '$answer' = no ] || [ '$answer' = na ]"
if systemctl suspend-then-hibernate > "$S/sth.log" 2>&1; then fail "systemctl suspend-then-hibernate was accepted"; else
    pass "systemctl suspend-then-hibernate is refused: $(head -n 1 "$S/sth.log")"
fi
state=$(systemctl is-system-running 2>&1)
check "the system still runs after the refusal ($state)" test "$state" = running
# A system-sleep hook, run as systemd-sleep runs them: "pre hibernate" and
# "post hibernate", SYSTEMD_SLEEP_ACTION=hibernate.
hook=/usr/lib/systemd/system-sleep/khibtest
[ -d "${hook%/*}" ] || { mkdir -p "${hook%/*}" && touch "$S/hookdir"; }
printf '#!/bin/sh\necho "$1 $2 $SYSTEMD_SLEEP_ACTION" >> %s/hooks\n' "$S" > "$hook"
chmod 755 "$hook"

# --- the workload, under systemd ------------------------------------------------
mkdir -p /run/systemd/system
cp "$C"/units/*.service /run/systemd/system/
systemctl daemon-reload
# shellcheck disable=SC2086 # the unit list
systemctl start $W
n=0
until [ -s /run/khibtest/mem/ready ] && [ -s /run/khibtest/tcp/tcp ] &&
    [ "$(sqlite3 /var/lib/khibtest/db.sqlite 'SELECT count(*) FROM t' 2>/dev/null || echo 0)" -ge 20 ]; do
    n=$((n + 1))
    [ "$n" -lt 600 ] || break
    sleep 0.5
done
for u in $W; do
    check "$u is active" quiet systemctl is-active "$u"
done

# What the journal must hold after each sleep: khib's lines, counted.
SLEEPS=0 RESUMES=0 WAKES=0

# verify LABEL VERB OUTCOME: everything after `systemctl VERB` came back by
# OUTCOME: "resumed" (R restored the image) or "woke" (a suspend-to-both
# woken from RAM: the image retired, nothing restored).
verify() {
    label=$1 verb=$2 outcome=$3
    system_checks "$label" "systemd-$verb.service"
    sleeps=$(systemctl list-units --state=active --no-legend --plain sleep.target "$verb.target" | wc -l)
    check "$label: sleep.target and $verb.target stopped" test "$sleeps" = 0
    workload_checks "$label" "$S" "$(cat "$S/rows.before")"
    st=$(img_state)
    if [ "$outcome" = woke ]; then
        ab=$(img --info | sed -n 's/^abandoned: *//p')
        case "$st $ab" in
            "ABANDONED "*"woke from suspend-to-both"*) pass "$label: the image is retired (ABANDONED at the wake: $ab)" ;;
            *) fail "$label: the image is $st ($ab), not retired at the wake" ;;
        esac
    else
        check "$label: the image is CONSUMED ($st)" test "$st" = CONSUMED
    fi
    check "$label: GRUB has no one-shot entry left" sh -c "! grub-editenv list | grep -q '^next_entry=.'"
    check "$label: the system-sleep hook ran with pre, then post $verb" \
        test "$(tail -n 2 "$S/hooks" | paste -sd ,)" = "pre $verb $verb,post $verb $verb" \
        -a "$(wc -l < "$S/hooks")" = $((2 * SLEEPS))
    journalctl -b -u systemd-hibernate.service -u systemd-hybrid-sleep.service -o cat > "$S/journal.log"
    for line in "khib: entering :$SLEEPS" "khib: the next boot resumes through the ordinary boot entry:$SLEEPS" \
        "khib: resumed from image:$RESUMES" "khib: woke from suspend-to-both:$WAKES" \
        "khib: system returned from hibernation:$SLEEPS"; do
        check "$label: the journal has '${line%:*}' ${line##*:} times" \
            test "$(grep -cF "${line%:*}" "$S/journal.log")" = "${line##*:}"
    done
}

# go VERB LABEL: systemctl VERB (hibernate, hybrid-sleep), as a desktop's
# menu does through logind; LABEL goes to the console for the host
# ("hibernating N": a cycle the host times; "hybrid-sleep wake|cut": the
# host wakes the sleeping machine, or cuts its power).  Then wait until
# systemd-VERB.service has run (the system is away in between: this loop
# resumes where it stopped).
go() {
    verb=$1
    for u in $W; do mainpid "$u" > "$S/$u.pid"; done
    counter /run/khibtest/tcp/tcp > "$S/tcp.before"
    rows
    echo "$MAX" > "$S/rows.before"
    info "sqlite-committed $MAX"
    info "$2"
    SLEEPS=$((SLEEPS + 1))
    if systemctl "$verb"; then pass "systemctl $verb ($2) returns 0"; else fail "systemctl $verb ($2)"; fi
    n=0
    # activating while khib runs (the save, the power-off, the restore), then
    # inactive (or failed) once khib hibernate has returned after the resume.
    while :; do
        a=$(systemctl show -P ActiveState "systemd-$verb.service")
        case "$a" in inactive|failed) [ "$n" -gt 4 ] && break ;; esac
        n=$((n + 1))
        [ "$n" -lt 2400 ] || { fail "systemd-$verb.service never finished ($a)"; break; }
        sleep 0.25
    done
    info "back from $2"
}

# HYBRID: first a suspend-to-both the host wakes (the same boot goes on);
# the last cycle a suspend-to-both whose power the host cuts during the
# sleep: the next boot resumes from its image.
if [ -n "${HYBRID:-}" ]; then
    go hybrid-sleep "hybrid-sleep wake"
    WAKES=$((WAKES + 1))
    verify "suspend-to-both woken" hybrid-sleep woke
fi
c=1
while [ "$c" -le "$CYCLES" ]; do
    # dracut: the first resume goes through an initramfs with systemd (its
    # default here), the second through one without.
    if [ "$c" = 2 ] && command -v dracut > /dev/null; then
        check "dracut rebuilds the initramfs without systemd" \
            quiet dracut -f --omit "systemd systemd-initrd dracut-systemd" "/boot/initrd.img-$(uname -r)" "$(uname -r)"
        info "dracut without systemd"
    fi
    verb=hibernate
    if [ -n "${HYBRID:-}" ] && [ "$c" = "$CYCLES" ]; then
        verb=hybrid-sleep
        info "hybrid-sleep cut"
    fi
    go "$verb" "hibernating $c"
    RESUMES=$((RESUMES + 1))
    verify "resume $c" "$verb" resumed
    c=$((c + 1))
done

# --- the end: the workload stops, the package goes -------------------------
# shellcheck disable=SC2086 # the unit list
systemctl stop $W
rows
info "sqlite-final $MAX $COUNT"
if apt-get purge -y -q --autoremove khib > "$S/purge.log" 2>&1; then pass "apt-get purge --autoremove khib"; else
    fail "apt-get purge --autoremove khib: $(tail -n 5 "$S/purge.log" | tr '\n' ' ')"
fi
# apt's autoremove keeps a dependency another package recommends
# (busybox-static, by initramfs-tools): what the install pulled in goes by
# name, as a user undoing the install would purge it.
pulled=$(packages | LC_ALL=C comm -13 "$S/packages.before" - | paste -sd ' ' -)
# shellcheck disable=SC2086 # package names
if [ -z "$pulled" ] || apt-get purge -y -q $pulled >> "$S/purge.log" 2>&1; then
    pass "apt-get purge of what the install pulled in (${pulled:-nothing left})"
else
    fail "apt-get purge $pulled: $(tail -n 5 "$S/purge.log" | tr '\n' ' ')"
fi
case "${FILE:-}" in
    /var/lib/khib/*) check "purge removed the image file $FILE (khib's own directory)" test ! -e "$FILE" ;;
    ?*)
        # Elsewhere the file is the administrator's: it stays, and goes as
        # docs/file-target.md says.
        check "purge kept the image file $FILE (outside /var/lib/khib)" test -f "$FILE"
        check "chattr -i and rm remove it" sh -c "chattr -i '$FILE' && rm '$FILE'"
        ;;
esac
for f in /etc/khib.conf /etc/grub.d/45_khib /boot/khib-initrd.img /run/systemd/sleep.conf.d/50-khib.conf; do
    check "purge removed $f" test ! -e "$f"
done
check "after the purge, grub.cfg has no khib entry" sh -c "! grep -q 'khib-resume-' /boot/grub/grub.cfg"
rm -f "$hook"
[ ! -e "$S/hookdir" ] || rmdir "${hook%/*}"
snapshot > "$S/after"
if diff "$S/before" "$S/after" > "$S/purge.diff"; then pass "purge left the file system as before the install"; else
    fail "purge left differences: $(head -n 10 "$S/purge.diff" | tr '\n' ' ')"
fi
stop
