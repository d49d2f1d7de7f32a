# shellcheck shell=sh
# Checks shared by the guest scenarios (sourced by guest.sh).
# A resumed system is verified by: every CPU online, the tmpfs data's sha256,
# the testload process's memory pattern and advancing counter.

result() {   # result PASS|FAIL TEXT
    echo "KHIBTEST: $1 $2"
}

check() {    # check TEXT COMMAND...: one result line
    what=$1
    shift
    if "$@"; then result PASS "$what"; else result FAIL "$what"; fi
}

all_cpus_online() {
    online=$(cat /sys/devices/system/cpu/online)
    want="0-$(($(nproc --all) - 1))"
    [ "$want" = "0-0" ] && want=0
    [ "$online" = "$want" ] || { echo "cpus online: $online, expected $want"; return 1; }
}

# start_workload MIB PROC_MIB [SOURCE]: tmpfs data of MIB MiB read from
# SOURCE (default /dev/urandom; at most its size) with its sha256, and a
# testload process holding PROC_MIB MiB of patterned anonymous memory.
start_workload() {
    mkdir -p /data /run/testload
    mount -t tmpfs -o size=90% tmpfs /data
    dd if="${3:-/dev/urandom}" of=/data/blob bs=1M count="$1" 2>/dev/null
    sha256sum /data/blob > /run/blob.sha256
    /test/khib-testload hold "$2" 12345 /run/testload &
    TESTLOAD_PID=$!
    while [ ! -f /run/testload/ready ]; do sleep 0.2; done
    sleep 0.5
}

# start_record_writer: mount the ext4 file system on vdb at /mnt and start
# the writer of checksummed records to /mnt/records (WRITER_PID).
start_record_writer() {
    mkdir -p /mnt
    mount -t ext4 /dev/vdb /mnt || result FAIL "mount /dev/vdb"
    /test/khib-testload writer /mnt/records &
    # shellcheck disable=SC2034 # read by the scenario scripts
    WRITER_PID=$!
}

data_intact() { sha256sum -c -s /run/blob.sha256; }

pattern_intact() {
    rm -f /run/testload/verify
    kill -USR1 "$TESTLOAD_PID" || return 1
    tries=0
    while [ ! -f /run/testload/verify ] && [ "$tries" -lt 600 ]; do sleep 0.1; tries=$((tries + 1)); done
    grep -q '^ok' /run/testload/verify 2>/dev/null || { echo "pattern: $(cat /run/testload/verify 2>/dev/null)"; return 1; }
}

counter_advancing() {
    a=$(cat /run/testload/counter)
    sleep 1
    b=$(cat /run/testload/counter)
    [ "$b" -gt "$a" ] || { echo "counter stuck at $a"; return 1; }
}

verify_resumed() {   # verify_resumed LABEL
    check "$1: all CPUs online" all_cpus_online
    check "$1: tmpfs data sha256 unchanged" data_intact
    check "$1: process memory pattern intact" pattern_intact
    check "$1: process counter advancing" counter_advancing
}

# POISON: "khib.poison=1" when this kernel's command line has it (the host's
# cycle.sh and roundtrip.sh), else empty.  khib_hibernate then hands it to
# the transient kernel, which poisons the pages it left out of the image
# (khib-save --poison-excluded); a caller's own --append must repeat it.
POISON=
case " $(cat /proc/cmdline) " in *" khib.poison=1 "*) POISON=khib.poison=1 ;; esac

# khib hibernate with the test guest's files and target.
khib_hibernate() {
    [ -n "$POISON" ] && set -- --append "$POISON" "$@"
    khib hibernate --target /dev/vda --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img "$@"
}
