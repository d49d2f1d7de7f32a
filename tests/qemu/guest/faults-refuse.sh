# shellcheck shell=sh
# Guest side of tests/qemu/faults.sh, first boot (sourced by guest.sh).
# Disks: vda target (blank), vdb ext4, vdc spare (made swap here), vdd a
# target too small for the image, vde a target whose writes fail (QEMU
# blkdebug).  Cases 2-4: `khib hibernate` refuses before the jump; cases 5-6:
# the transient kernel fails, reports to the mailbox and jumps back.  After
# each: the exit status, the message, the workload intact and running, and
# no committed image on any target.

# expect_fail WHAT STATUS TEXT COMMAND...: COMMAND exits STATUS and its
# output names TEXT.
expect_fail() {
    what=$1 want=$2 text=$3
    shift 3
    "$@" > /tmp/out 2>&1 && got=0 || got=$?
    cat /tmp/out
    if [ "$got" = "$want" ] && grep -qF -- "$text" /tmp/out; then
        result PASS "$what: exit $got, says '$text'"
    else
        result FAIL "$what: exit $got (want $want), output: $(tr '\n' ' ' < /tmp/out)"
    fi
}

# no_image DEV: DEV holds no committed image (none, or an unfinished one).
no_image() {
    state=$(khib-restore --image "$1" --info 2>/dev/null | sed -n 's/^state: *//p')
    echo "$1: ${state:-no khib image}"
    [ "$state" != COMMITTED ]
}

workload_alive() {
    data_intact && pattern_intact && counter_advancing
}

mkdir -p /mnt
mount -t ext4 /dev/vdb /mnt || result FAIL "mount /dev/vdb"
start_workload 128 64

# 4. bad options: usage errors, exit 1.
expect_fail "4a unknown option" 1 "unrecognized option '--frobnicate'" khib_hibernate --frobnicate
expect_fail "4b bad window" 1 "is not a size of at least 64M" khib_hibernate --window 12x
expect_fail "4c bad level" 1 "is not auto, store or a zstd level" khib_hibernate --level 99
expect_fail "4d stray argument" 1 "unexpected argument 'now'" khib_hibernate now

# 2. the target: missing, mounted, active swap.  Refused: exit 3.
expect_fail "2a missing target" 3 "target /dev/vdz: No such file or directory" \
    khib hibernate --target /dev/vdz --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img
expect_fail "2b mounted target" 3 "target /dev/vdb is mounted on /mnt" \
    khib hibernate --target /dev/vdb --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img
mkswap /dev/vdc > /dev/null && swapon /dev/vdc || result FAIL "swapon /dev/vdc"
expect_fail "2c swap target" 3 "target /dev/vdc is an active swap area" \
    khib hibernate --target /dev/vdc --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img
swapoff /dev/vdc

# 3. too little free memory to back up the window.
mkdir -p /run/hog
/test/khib-testload hold 600 777 /run/hog &
HOG=$!
tries=0
while [ ! -f /run/hog/ready ] && [ "$tries" -lt 300 ]; do sleep 0.2; tries=$((tries + 1)); done
grep MemAvailable /proc/meminfo
expect_fail "3 not enough memory" 3 "MiB needed to back up the 192 MiB window" khib_hibernate
kill "$HOG"
wait "$HOG" 2>/dev/null

check "2-4: no image was written to /dev/vda" no_image /dev/vda
check "2-4: workload intact and running after the refusals" workload_alive
check "2b: the ext4 file system is still mounted" grep -q ' /mnt ext4 ' /proc/mounts

# 5. a target too small for the image: the save fails in B, B jumps back.
expect_fail "5 target too small" 4 "is too small: the image needs" \
    khib hibernate --target /dev/vdd --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img
grep -q 'the target holds 16.0 MiB' /tmp/out && result PASS "5: the message gives both sizes" ||
    result FAIL "5: the message gives both sizes"
verify_resumed "5 after the failed save"
check "5: no committed image on /dev/vdd" no_image /dev/vdd

# 6. write errors on the target.
expect_fail "6 write error" 4 "Input/output error" \
    khib hibernate --target /dev/vde --kernel /boot/khib/vmlinuz --initrd /usr/lib/khib/khib-initrd.img
verify_resumed "6 after the failed save"
check "6: no committed image on /dev/vde" no_image /dev/vde
check "5-6: the ext4 file system is still mounted" grep -q ' /mnt ext4 ' /proc/mounts

# After all that, a hibernation still works.
if khib_hibernate --test; then
    result PASS "after the failures, khib hibernate --test succeeds"
else
    result FAIL "after the failures, khib hibernate --test exited $?"
fi
verify_resumed "after the test snapshot"
umount /mnt
