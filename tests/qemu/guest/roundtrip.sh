# shellcheck shell=sh
# Guest side of tests/qemu/roundtrip.sh: three `khib hibernate --test` round
# trips in one boot, each verified, one with a one-CPU transient kernel, then
# two that show the trim: with stale random data in free memory, the image
# with the trim must be smaller than the one without by most of that data
# (sourced by guest.sh).
start_workload 256 64
for round in 1 2 3; do
    echo "roundtrip: round $round"
    # Rounds 1 and 2 at the default level, auto; round 3 stores every chunk
    # uncompressed (--level store): raw-block frames restored through /dev/mem.
    if [ "$round" = 3 ]; then set -- --level store; else set --; fi
    if khib_hibernate --test "$@"; then
        result PASS "round $round: khib hibernate --test returned 0"
    else
        result FAIL "round $round: khib hibernate --test exited $?"
    fi
    verify_resumed "round $round"
    check "round $round: image on /dev/vda verifies" khib-restore --image /dev/vda --verify
done

# B may bring up every CPU, and must work with one: a round with maxcpus=1 on
# its command line (the host checks that khib-save used one thread).
echo "roundtrip: transient kernel with one CPU"
if khib_hibernate --test --append maxcpus=1; then
    result PASS "one-CPU transient kernel: khib hibernate --test returned 0"
else
    result FAIL "one-CPU transient kernel: khib hibernate --test exited $?"
fi
verify_resumed "one-CPU transient kernel"

# stale_free_memory: 192 MiB of random data written to tmpfs and deleted:
# its pages are free again, with their contents.
stale_free_memory() {
    dd if=/dev/urandom of=/data/stale bs=1M count=192 2>/dev/null
    rm -f /data/stale
}

# image_mib: the MiB of the last "snapshot saved" line of /tmp/hib.out.
image_mib() { sed -n 's/.*snapshot saved: image [^,]*, \([0-9]*\)\.[0-9]* MiB.*/\1/p' /tmp/hib.out | tail -n 1; }

for trim in no yes; do
    stale_free_memory
    # A fixed level: at level auto the image's size depends on the timing.
    if [ "$trim" = no ]; then set -- --no-trim --level 1; else set -- --level 1; fi
    if khib_hibernate --test "$@" > /tmp/hib.out 2>&1; then
        result PASS "trim=$trim: khib hibernate --test returned 0"
    else
        result FAIL "trim=$trim: khib hibernate --test exited $?: $(tail -n 1 /tmp/hib.out)"
    fi
    cat /tmp/hib.out
    if [ "$trim" = no ]; then size_no=$(image_mib); else size_yes=$(image_mib); fi
    verify_resumed "trim=$trim"
done
if grep -q '^khib: trimmed memory: ' /tmp/hib.out; then
    result PASS "trim: reported"
else
    result FAIL "trim: not reported"
fi
if [ -n "$size_no" ] && [ -n "$size_yes" ] && [ $((size_no - size_yes)) -ge 128 ]; then
    result PASS "trim: the image is ${size_yes} MiB, ${size_no} MiB without (stale data elided)"
else
    result FAIL "trim: the image is '${size_yes}' MiB, '${size_no}' MiB without: not 128 MiB smaller"
fi
