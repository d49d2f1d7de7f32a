# shellcheck shell=sh
# Guest side of tests/qemu/roundtrip.sh: three `khib hibernate --test` round
# trips in one boot, each verified, one with a one-CPU transient kernel, then
# three with stale random data in free memory: everything saved, the trim's
# zeroing, the free pages left out; the last two images must be smaller than
# the first by most of that data (sourced by guest.sh).
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
if khib_hibernate --test --append "maxcpus=1 $POISON"; then
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

# Three rounds with stale data in free memory, at a fixed level (at level
# auto the image's size depends on the timing): everything saved
# (--no-trim --no-exclude-free); the trim's zeroing (--no-exclude-free);
# free pages left out (--no-trim).  Both must elide the stale data.
for mode in all zeroed excluded; do
    stale_free_memory
    case "$mode" in
        all) set -- --no-trim --no-exclude-free --level 1 ;;
        zeroed) set -- --no-exclude-free --level 1 ;;
        excluded) set -- --no-trim --level 1 ;;
    esac
    if khib_hibernate --test "$@" > /tmp/hib.out 2>&1; then
        result PASS "$mode: khib hibernate --test returned 0"
    else
        result FAIL "$mode: khib hibernate --test exited $?: $(tail -n 1 /tmp/hib.out)"
    fi
    cat /tmp/hib.out
    case "$mode" in
        all) size_all=$(image_mib) ;;
        zeroed) size_zeroed=$(image_mib); zeroed_out=$(grep '^khib: trimmed memory: ' /tmp/hib.out) ;;
        excluded) size_excluded=$(image_mib) ;;
    esac
    verify_resumed "$mode"
done
if [ -n "$zeroed_out" ]; then
    result PASS "trim: reported: $zeroed_out"
else
    result FAIL "trim: not reported"
fi
echo "roundtrip: image sizes with 192 MiB of stale free memory: ${size_all} MiB all saved," \
    "${size_zeroed} MiB zeroed by the trim, ${size_excluded} MiB free pages excluded"
for mode in zeroed excluded; do
    if [ "$mode" = zeroed ]; then size=$size_zeroed; else size=$size_excluded; fi
    if [ -n "$size_all" ] && [ -n "$size" ] && [ $((size_all - size)) -ge 128 ]; then
        result PASS "$mode: the image is ${size} MiB, ${size_all} MiB with everything saved (stale data elided)"
    else
        result FAIL "$mode: the image is '${size}' MiB, '${size_all}' MiB with everything saved: not 128 MiB smaller"
    fi
done

# The image size limit (--image-size), with a swap disk on /dev/vdb.
# target_sum: the first 64 MiB of the target (superblock, key header, the
# start of the data), which any save rewrites.
target_sum() { dd if=/dev/vda bs=1M count=64 2>/dev/null | md5sum | cut -d' ' -f1; }
# image_bytes: the image's end on the target, from khib-restore --info
# ("image size: ... (data ..., index N bytes at OFFSET)").
image_bytes() {
    khib-restore --image /dev/vda --info |
        sed -n 's/^image size: .*index \([0-9]*\) bytes at \([0-9]*\)).*/\1 \2/p' |
        { read -r n at && echo $((n + at)); }
}
check "image-size: mkswap /dev/vdb" mkswap /dev/vdb
# 1. No swap, a limit far below the memory in use: refused before anything
# changes (no reclaim, nothing written), exit 3.
sum_before=$(target_sum)
khib_hibernate --test --image-size 64M > /tmp/hib.out 2>&1
rc=$?
cat /tmp/hib.out
if [ "$rc" = 3 ] && grep -q 'not hibernating: the image would be about .* there is no swap' /tmp/hib.out &&
    grep -q 'nothing was written to /dev/vda' /tmp/hib.out && ! grep -q 'reclaiming' /tmp/hib.out; then
    result PASS "image-size: no swap: refused with exit 3 before reclaiming"
else
    result FAIL "image-size: no swap: exit $rc, not the refusal expected"
fi
if [ "$(target_sum)" = "$sum_before" ]; then
    result PASS "image-size: no swap: the target is untouched"
else
    result FAIL "image-size: no swap: the target changed"
fi
estimate=$(sed -n 's/.*the image would be about \([0-9]*\) MiB.*/\1/p' /tmp/hib.out | head -n 1)
# 2. With swap, a limit 160 MiB below that estimate: the tmpfs data and
# the process's memory go to swap, the image fits, and all comes back.
check "image-size: swapon /dev/vdb" swapon /dev/vdb
limit=$((${estimate:-0} - 160))
[ "$limit" -gt 0 ] || limit=1
echo "roundtrip: image-size: estimate ${estimate} MiB without reclaim, limit ${limit} MiB"
if khib_hibernate --test --image-size "${limit}M" > /tmp/hib.out 2>&1; then
    result PASS "image-size ${limit}M: khib hibernate --test returned 0"
else
    result FAIL "image-size ${limit}M: khib hibernate --test exited $?: $(tail -n 1 /tmp/hib.out)"
fi
cat /tmp/hib.out
reclaimed() { grep -q '^khib: reclaiming: ' /tmp/hib.out && grep -q "within image-size=${limit} MiB" /tmp/hib.out; }
check "image-size ${limit}M: reclaimed memory (progress shown) until the estimate fitted" reclaimed
swap_used=$(awk '$1 == "/dev/vdb" { print $4 }' /proc/swaps)
echo "roundtrip: image-size: ${swap_used:-0} KiB in swap"
check "image-size ${limit}M: memory went to swap" [ "${swap_used:-0}" -gt 0 ]
bytes=$(image_bytes)
echo "roundtrip: image-size: the image takes ${bytes} bytes ($((${bytes:-0} >> 20)) MiB), limit ${limit} MiB"
within_limit() { [ "${bytes:-0}" -gt 0 ] && [ "${bytes:-0}" -le $((limit << 20)) ]; }
check "image-size ${limit}M: the image ($((${bytes:-0} >> 20)) MiB) is within the limit" within_limit
verify_resumed "image-size ${limit}M"
check "image-size ${limit}M: image on /dev/vda verifies" khib-restore --image /dev/vda --verify
# 3. With swap, a limit below what can be freed at all: refused, exit 3,
# the target untouched (some memory may have gone to swap first).
sum_before=$(target_sum)
khib_hibernate --test --image-size 16M > /tmp/hib.out 2>&1
rc=$?
cat /tmp/hib.out
if [ "$rc" = 3 ] && grep -q 'not hibernating: .*\(can be freed\|reclaim stalled\)' /tmp/hib.out &&
    grep -q 'nothing was written to /dev/vda' /tmp/hib.out; then
    result PASS "image-size 16M: refused with exit 3"
else
    result FAIL "image-size 16M: exit $rc, not the refusal expected"
fi
if [ "$(target_sum)" = "$sum_before" ]; then
    result PASS "image-size 16M: the target is untouched"
else
    result FAIL "image-size 16M: the target changed"
fi
verify_resumed "after the refusals"
swapoff /dev/vdb
