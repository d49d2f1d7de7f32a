# shellcheck shell=sh disable=SC2034
# Shared by the guest driver's two parts (run.sh, hibernate.sh): where things
# are, the result lines on the console, small helpers.
C=/var/lib/khibtest/ctl         # the control disk's files
S=/var/lib/khibtest             # state that the host reads afterwards
# The control disk's settings for this guest (distro.sh): CYCLES, REFUSE,
# FILE (the image in that file, not on /dev/vda3), HYBRID (cycle 1 woken
# suspend-to-both first, cycle 2 a suspend-to-both the host cuts).
# shellcheck source=/dev/null
[ ! -f "$C/settings" ] || . "$C/settings"
CYCLES=${CYCLES:-2}
FILE_SIZE=1G
TARGET=${FILE:-/dev/vda3}
# image_place: IMG_DEV and IMG_OFF, where khib-restore finds the image: the
# partition, or the device and first block khib setup-target recorded.
image_place() {
    IMG_DEV=/dev/vda3 IMG_OFF=
    [ -z "${FILE:-}" ] || [ ! -f /etc/khib.conf ] || {
        IMG_DEV=$(sed -n 's/^target-device=//p' /etc/khib.conf | tail -n 1)
        IMG_OFF=$(sed -n 's/^target-offset=//p' /etc/khib.conf | tail -n 1)
    }
}
image_place
# img OPTION...: khib-restore on the image (--info, --resumable, ...).
img() { /usr/lib/khib/khib-restore --image "$IMG_DEV" ${IMG_OFF:+"--offset=$IMG_OFF"} "$@"; }
img_state() { img --info 2> /dev/null | sed -n 's/^state: *//p'; }
export DEBIAN_FRONTEND=noninteractive
pass() { echo "KHIBTEST: PASS $*"; }
fail() { echo "KHIBTEST: FAIL $*"; }
info() { echo "KHIBTEST: INFO $*"; }
check() {   # check WHAT COMMAND...
    what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
quiet() { "$@" > /dev/null 2>&1; }
stop() {    # stop: the host reads the rest from the disk
    info "done"
    sync
    systemctl poweroff
    exit 0
}

# The workload (units/khibtest-*.service): its units and database.
W="khibtest-sqlite khibtest-memory khibtest-tcp"
DB=$S/db.sqlite
mainpid() { systemctl show -P MainPID "$1.service"; }
counter() { sed -n 's/^ok \([0-9]*\)$/\1/p' "$1" 2>/dev/null; }
# rows: MIN, MAX and COUNT of the database's sequence.
rows() {
    r=$(sqlite3 "$DB" "SELECT coalesce(min(seq), 0) || ' ' || coalesce(max(seq), 0) || ' ' || count(*) FROM t" 2>&1)
    # shellcheck disable=SC2086 # three numbers
    set -- $r
    MIN=${1:-?} MAX=${2:-?} COUNT=${3:-?}
}

# system_checks LABEL UNIT: after a sleep, UNIT (systemd-hibernate.service,
# ...) succeeded and the system runs, no unit failed, every CPU online.
system_checks() {
    r=$(systemctl show -P Result "$2")
    check "$1: $2 succeeded (Result=$r)" test "$r" = success
    st=$(timeout 60 systemctl is-system-running --wait 2>&1)
    check "$1: is-system-running is running ($st)" test "$st" = running
    failed=$(systemctl list-units --state=failed --no-legend --plain | awk '{ print $1 }' | paste -sd ' ' -)
    check "$1: no failed unit (${failed:-none})" test -z "$failed"
    online=$(cat /sys/devices/system/cpu/online)
    check "$1: every CPU online ($online of $(nproc --all))" test "$online" = "0-$(($(nproc --all) - 1))"
}

# workload_checks LABEL DIR ROWS: after a sleep, the workload's units run
# as the processes whose pids DIR/UNIT.pid hold, the memory pattern is
# intact, the TCP pair goes on past DIR/tcp.before, the database is gapless
# from row 1 and past ROWS, journald logs.
workload_checks() {
    for u in $W; do
        check "$1: $u still runs as the same process" test "$(mainpid "$u")" = "$(cat "$2/$u.pid")"
    done
    rm -f /run/khibtest/mem/verify
    kill -USR1 "$(cat "$2/khibtest-memory.pid")"
    n=0
    until [ -s /run/khibtest/mem/verify ] || [ "$n" -ge 120 ]; do n=$((n + 1)); sleep 0.5; done
    check "$1: 320 MiB memory pattern intact ($(cat /run/khibtest/mem/verify 2>/dev/null))" \
        grep -q '^ok' /run/khibtest/mem/verify
    # The pair rewrites its counter every 100 messages, nominally every
    # second: under TCG, with the guest busy after a resume, 100 messages
    # took more than 2 s (soak of 5 December 2026, cycle 17).  It must move
    # on within 20 s.
    t0=$(counter /run/khibtest/tcp/tcp)
    n=0
    until t1=$(counter /run/khibtest/tcp/tcp) && [ "${t1:-0}" -gt "${t0:-0}" ] || [ "$n" -ge 40 ]; do
        n=$((n + 1))
        sleep 0.5
    done
    check "$1: the TCP pair exchanges in order, no loss, duplicate or reset ($(cat /run/khibtest/tcp/tcp); ${t0:-?} -> ${t1:-?} in $((n / 2)) s, $(cat "$2/tcp.before") before)" \
        test "${t1:-0}" -gt "${t0:-0}" -a "${t0:-0}" -gt "$(cat "$2/tcp.before")"
    rows
    check "$1: sqlite goes on writing, rows gapless (min $MIN, max $MAX, count $COUNT, before $3)" \
        test "$MIN" = 1 -a "$MAX" = "$COUNT" -a "$MAX" -gt "$3"
    token="khibtest-journal-$(date +%s%N)-$$"
    logger -t khibtest "$token"
    n=0
    until quiet sh -c "journalctl -t khibtest -o cat | grep -qx '$token'" || [ "$n" -ge 20 ]; do
        n=$((n + 1))
        sleep 0.5
    done
    check "$1: journald still logs" quiet sh -c "journalctl -t khibtest -o cat | grep -qx '$token'"
}

# logind METHOD: logind's answer to CanHibernate, CanHybridSleep, ...
logind() {
    busctl call org.freedesktop.login1 /org/freedesktop/login1 org.freedesktop.login1.Manager "$1" |
        sed -n 's/^s "\(.*\)"$/\1/p'
}

# What purge must give back: every path outside logs, caches and the
# bookkeeping of apt, dpkg and systemd.
snapshot() {
    find / -xdev \( -path /proc -o -path /tmp -o -path /var/tmp -o -path /var/cache -o -path /var/log -o -path /var/backups \
        -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /var/lib/systemd -o -path "$S" \) -prune -o -print |
        LC_ALL=C sort
}
packages() { dpkg-query -W -f='${Package}\n' | LC_ALL=C sort; }
# The memory map R compares with the image's (khib-restore --memmap: the
# text its digest covers, then "digest HEX"), as KHIBTEST: INFO memmap lines.
memmap_info() {
    /usr/lib/khib/khib-restore --memmap | sed 's/^/KHIBTEST: INFO memmap /'
}
