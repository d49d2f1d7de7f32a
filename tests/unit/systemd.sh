#!/bin/sh
# Host tests of khib's systemd integration (docs/systemd.md): `khib sleep`
# (build/khib) with a stub khib ($KHIB_SLEEP_KHIB) and fake system-sleep
# hook directories ($KHIB_SLEEP_DIRS): the order check, pre hooks,
# hibernate, post hooks; the hooks' arguments and SYSTEMD_SLEEP_ACTION; the
# hooks systemd-sleep would skip; a refused check (no hook runs), a failed
# hibernation (post hooks run, its status is the exit status), the refusal
# of suspend-then-hibernate and hybrid-sleep; `khib check --logind` writing
# the sleep.conf drop-in ($KHIB_SLEEP_CONF); and the units and drop-ins in
# systemd/.  Nothing here touches the system.  Prints "N passed, N failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
khib=$root/build/khib
# shellcheck source=tests/lib/check.sh
. "$root/tests/lib/check.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/khib-systemd.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$work/log
export KHIB_TEST_LOG="$log"

# The stub khib: logs its arguments and the environment the hooks see,
# exits STUB_CHECK for check and STUB_HIBERNATE for hibernate.
cat > "$work/khib" <<'STUB'
#!/bin/sh
echo "khib $* action=${SYSTEMD_SLEEP_ACTION:-unset}" >> "$KHIB_TEST_LOG"
case "$1" in
    check) [ "${STUB_CHECK:-0}" = 0 ] || echo "FAIL  stub check fails" >&2; exit "${STUB_CHECK:-0}" ;;
    hibernate) echo "khib: stub hibernate says ${STUB_HIBERNATE:-0}" >&2; exit "${STUB_HIBERNATE:-0}" ;;
esac
exit 1
STUB
chmod 755 "$work/khib"

# Two hook directories, as /usr/lib/systemd/system-sleep and
# /lib/systemd/system-sleep on a system whose /lib is not merged.
usr=$work/usr-lib-system-sleep
lib=$work/lib-system-sleep
mkdir -p "$usr" "$lib"
hook() {   # hook DIR NAME [EXIT]: a hook logging NAME, its arguments and SYSTEMD_SLEEP_ACTION
    printf '#!/bin/sh\necho "hook %s $1 $2 action=$SYSTEMD_SLEEP_ACTION args=$#" >> "$KHIB_TEST_LOG"\nexit %s\n' \
        "$2" "${3:-0}" > "$1/$2"
    chmod 755 "$1/$2"
}
hook "$usr" 10-first
hook "$lib" 10-first-lib-copy
mv "$lib/10-first-lib-copy" "$lib/10-first"   # the same name in the later directory: not run
hook "$lib" 20-only-in-lib
hook "$usr" 30-fails 7
hook "$lib" 40-masked
ln -s /dev/null "$usr/40-masked"                # masks the later directory's file of that name
hook "$usr" .hidden
hook "$usr" 50-backup~
hook "$usr" 60-old.dpkg-old
printf '#!/bin/sh\necho "hook not-executable" >> "$KHIB_TEST_LOG"\n' > "$usr/70-not-executable"
: > "$usr/80-empty"
chmod 755 "$usr/80-empty"
mkdir "$usr/90-a-directory"
export KHIB_SLEEP_KHIB="$work/khib" KHIB_SLEEP_DIRS="$usr:$lib:$work/missing:$usr"

run() {   # run ARGS...: khib sleep ARGS with the log emptied; sets rc and out
    : > "$log"
    out=$("$khib" sleep "$@" 2>&1) && rc=0 || rc=$?
}
logged() { grep -qx -- "$1" "$log"; }
line_of() { grep -nx -- "$1" "$log" | cut -d: -f1; }

run hibernate
check "khib sleep hibernate exits 0 when khib hibernate does ($rc: $out)" [ "$rc" = 0 ]
check "khib check --logind --quiet runs first" [ "$(head -n 1 "$log")" = "khib check --logind --quiet action=unset" ]
check "the pre hooks run with 'pre hibernate' and SYSTEMD_SLEEP_ACTION=hibernate" \
    logged "hook 10-first pre hibernate action=hibernate args=2"
check "a hook only in the later directory runs" logged "hook 20-only-in-lib pre hibernate action=hibernate args=2"
check "a failing hook runs (its failure ignored)" logged "hook 30-fails pre hibernate action=hibernate args=2"
check "the failing hook is reported" sh -c "printf '%s\n' \"\$1\" | grep -q 'system-sleep hook .*30-fails pre hibernate failed with exit status 7'" - "$out"
check "khib hibernate runs with SYSTEMD_SLEEP_ACTION=hibernate" logged "khib hibernate action=hibernate"
check "the post hooks run with 'post hibernate'" logged "hook 10-first post hibernate action=hibernate args=2"
check "post for the later directory's hook" logged "hook 20-only-in-lib post hibernate action=hibernate args=2"
pre_last=$(grep -n ' pre hibernate' "$log" | tail -n 1 | cut -d: -f1)
post_first=$(grep -n ' post hibernate' "$log" | head -n 1 | cut -d: -f1)
hib=$(line_of "khib hibernate action=hibernate")
check "order: check, every pre hook, hibernate, every post hook" \
    [ "$(line_of "khib check --logind --quiet action=unset")" = 1 ] && [ "$pre_last" -lt "$hib" ] && [ "$hib" -lt "$post_first" ]
check "three hooks ran, twice each (6 lines)" [ "$(grep -c '^hook ' "$log")" = 6 ]
check "the earlier directory's file wins over the same name" sh -c "! grep -q 'first-lib-copy' '$log'"
for skipped in 40-masked .hidden 50-backup~ 60-old.dpkg-old not-executable; do
    check "hook $skipped is skipped, as systemd-sleep skips it" sh -c "! grep -q -- 'hook $skipped' '$log'"
done
check "a hook that is not executable is reported" sh -c "printf '%s\n' \"\$1\" | grep -q '70-not-executable is not executable'" - "$out"
check "entering and returning are logged" sh -c "printf '%s\n' \"\$1\" | grep -q 'khib: entering hibernation' &&
    printf '%s\n' \"\$1\" | grep -q 'khib: system returned from hibernation'" - "$out"

# The hooks run at once: two hooks of 2 s take about 2 s, not 4.
par=$work/parallel
mkdir -p "$par"
for n in 1 2; do
    printf '#!/bin/sh\nsleep 2\necho "hook slow%s $1" >> "$KHIB_TEST_LOG"\n' "$n" > "$par/$n-slow"
    chmod 755 "$par/$n-slow"
done
start=$(date +%s)
KHIB_SLEEP_DIRS=$par run hibernate
took=$(($(date +%s) - start))
check "two hooks of 2 s each, pre and post, run in parallel (took $took s, not 8)" [ "$took" -lt 7 ]
check "both slow hooks ran pre and post" [ "$(grep -c '^hook slow' "$log")" = 4 ]
# A hook that hangs is killed at the time limit; hibernate and post go on.
hang=$work/hang
mkdir -p "$hang"
printf '#!/bin/sh\n[ "$1" = pre ] && exec sleep 60\necho "hook hang $1" >> "$KHIB_TEST_LOG"\n' > "$hang/hang"
chmod 755 "$hang/hang"
KHIB_SLEEP_TIMEOUT=1 KHIB_SLEEP_DIRS=$hang run hibernate
check "a hanging pre hook is killed at the limit ($rc)" sh -c "printf '%s\n' \"\$1\" | grep -q 'hang pre hibernate still runs after 1 s: killed'" - "$out"
check "after a killed hook, hibernate and post still run" sh -c "grep -qx 'khib hibernate action=hibernate' '$log' && grep -qx 'hook hang post' '$log'"

# --config reaches both khib runs.
run hibernate --config /etc/other.conf
check "--config passed to check" logged "khib check --logind --quiet --config /etc/other.conf action=unset"
check "--config passed to hibernate" logged "khib hibernate --config /etc/other.conf action=hibernate"

# A failed check: nothing else runs.
STUB_CHECK=3 run hibernate
check "a failed check exits 3 ($rc)" [ "$rc" = 3 ]
check "a failed check runs no hook and no hibernate" [ "$(wc -l < "$log")" = 1 ]
check "a failed check says why" sh -c "printf '%s\n' \"\$1\" | grep -q 'not hibernating: khib check failed (exit 3'" - "$out"

# A failed hibernation (the save failed in the transient kernel, which
# jumped back): post hooks run, the status is the service's.
STUB_HIBERNATE=4 run hibernate
check "a failed hibernation exits with khib hibernate's status ($rc)" [ "$rc" = 4 ]
check "the post hooks run after a failed hibernation" logged "hook 10-first post hibernate action=hibernate args=2"
check "a failed hibernation is reported" sh -c "printf '%s\n' \"\$1\" | grep -q 'hibernation failed (khib hibernate exit 4, the reason above); the system kept running'" - "$out"

verb=suspend-then-hibernate
run "$verb"
check "$verb is refused (exit $rc)" [ "$rc" = 1 ]
check "$verb: nothing ran" [ ! -s "$log" ]
check "$verb: the reason is given" sh -c "printf '%s\n' \"\$1\" | grep -q 'khib: refusing $verb: .*Nothing was done'" - "$out"
# hybrid-sleep: suspend-to-both (docs/hybrid.md), khib hibernate --hybrid.
run hybrid-sleep
check "hybrid-sleep exits 0 when khib hibernate --hybrid does ($rc: $out)" [ "$rc" = 0 ]
check "hybrid-sleep: khib check first" [ "$(head -n 1 "$log")" = "khib check --logind --quiet action=unset" ]
check "hybrid-sleep: the hooks with 'pre hybrid-sleep'" logged "hook 10-first pre hybrid-sleep action=hybrid-sleep args=2"
check "hybrid-sleep: khib hibernate --hybrid" logged "khib hibernate --hybrid action=hybrid-sleep"
check "hybrid-sleep: the hooks with 'post hybrid-sleep'" logged "hook 10-first post hybrid-sleep action=hybrid-sleep args=2"
run freeze
check "an unknown verb is a usage error" [ "$rc" = 1 ]
run
check "no verb is a usage error" [ "$rc" = 1 ]
check "khib sleep --help" sh -c "'$khib' sleep --help | grep -q '^Usage: khib sleep'"

# Under systemd (JOURNAL_STREAM names stderr), lines carry their priority.
out=$(sh -c 'JOURNAL_STREAM=$(stat -L -c "%d:%i" /proc/self/fd/2) exec "$0" sleep suspend-then-hibernate' "$khib" 2>&1)
check "for the journal, the refusal is an error (<3>)" sh -c "printf '%s\n' \"\$1\" | grep -q '^<3>khib: refusing'" - "$out"
out=$("$khib" sleep suspend-then-hibernate 2>&1)
check "elsewhere, no priority prefix" sh -c "printf '%s\n' \"\$1\" | grep -q '^khib: refusing'" - "$out"

# khib check --logind writes the drop-in; a check failing here (no target)
# writes AllowHibernation=no.
conf=$work/run/systemd/sleep.conf.d/50-khib.conf
printf 'target=%s/no-such-device\n' "$work" > "$work/khib.conf"
KHIB_SLEEP_CONF=$conf "$khib" check --logind --quiet --config "$work/khib.conf" > "$work/out" 2>&1 && rc=0 || rc=$?
check "khib check --logind exits 3 when a check fails ($rc)" [ "$rc" = 3 ]
check "--quiet prints only FAILs" sh -c "! grep -q '^PASS' '$work/out' && grep -q '^FAIL' '$work/out'"
check "the drop-in is written (directories made)" test -s "$conf"
check "a failed check: AllowHibernation=no" grep -qx 'AllowHibernation=no' "$conf"
check "the drop-in refuses suspend-then-hibernate" grep -qx 'AllowSuspendThenHibernate=no' "$conf"
check "the drop-in refuses hybrid-sleep" grep -qx 'AllowHybridSleep=no' "$conf"
check "the drop-in has its [Sleep] section" grep -qx '\[Sleep\]' "$conf"
check "no temporary file is left" test ! -e "$conf.tmp"
KHIB_SLEEP_CONF=$work/ro/x/50-khib.conf
mkdir -p "$work/ro" && chmod 555 "$work/ro"
if [ "$(id -u)" != 0 ]; then
    KHIB_SLEEP_CONF=$KHIB_SLEEP_CONF "$khib" check --logind --quiet --config "$work/khib.conf" > "$work/out" 2>&1 && rc=0 || rc=$?
    check "an unwritable drop-in is exit 2 ($rc)" [ "$rc" = 2 ]
else
    ok
fi
"$khib" hibernate --logind > /dev/null 2>&1 && rc=0 || rc=$?
check "--logind belongs to check" [ "$rc" = 1 ]

# The files in systemd/.
s=$root/systemd
for unit in systemd-hibernate systemd-suspend-then-hibernate systemd-hybrid-sleep; do
    f=$s/$unit.service.d/khib.conf
    verb=${unit#systemd-}
    check "$unit: ExecStart= is reset" grep -qx 'ExecStart=' "$f"
    check "$unit: ExecStart=/usr/sbin/khib sleep $verb" grep -qx "ExecStart=/usr/sbin/khib sleep $verb" "$f"
done
check "hibernate: no start timeout" grep -qx 'TimeoutStartSec=infinity' "$s/systemd-hibernate.service.d/khib.conf"
check "logind: the swap check is bypassed" grep -qx 'Environment=SYSTEMD_BYPASS_HIBERNATION_MEMORY_CHECK=1' \
    "$s/systemd-logind.service.d/khib.conf"
for key in AllowHibernation AllowSuspendThenHibernate AllowHybridSleep; do
    check "the shipped sleep.conf.d refuses $key until checked" grep -qx "$key=no" "$s/sleep.conf.d/50-khib.conf"
done
check "khib-logind.service runs khib check --logind" grep -qx 'ExecStart=/usr/sbin/khib check --logind' "$s/khib-logind.service"
check "khib-logind.service: a failing check is no unit failure" grep -qx 'SuccessExitStatus=3' "$s/khib-logind.service"
check "khib-logind.service runs before logind, after the mounts" \
    sh -c "grep -qx 'Before=systemd-logind.service' '$s/khib-logind.service' && grep -qx 'After=local-fs.target' '$s/khib-logind.service'"
check "khib-logind.path watches /etc/khib.conf" grep -qx 'PathChanged=/etc/khib.conf' "$s/khib-logind.path"
if command -v systemd-analyze > /dev/null 2>&1; then
    # systemd-analyze verify wants the programs: give it a root with stubs.
    vr=$work/verify
    mkdir -p "$vr/usr/sbin" "$vr/etc/systemd/system"
    cp "$s/khib-logind.service" "$s/khib-logind.path" "$s/khib-retire.service" "$vr/etc/systemd/system/"
    if msg=$(systemd-analyze verify --man=no "$vr/etc/systemd/system/khib-logind.path" \
        "$vr/etc/systemd/system/khib-logind.service" 2>&1 | grep -v 'khib.*is not executable\|No such file or directory\|/usr/sbin/khib'); [ -z "$msg" ]; then
        ok
    else
        bad "systemd-analyze verify: $msg"
    fi
fi
if command -v shellcheck > /dev/null 2>&1; then
    if msg=$(shellcheck -S warning "$0" 2>&1); then ok; else bad "shellcheck $0: $msg"; fi
fi
counts
