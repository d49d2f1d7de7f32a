#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# Three `khib hibernate --test` round trips in one boot of a 2-CPU, 1 GiB
# guest with 256 MiB of tmpfs data and a 64 MiB patterned process; after each
# the guest checks every CPU, the data's sha256, the process's memory and
# counter, and that the image on the target verifies.  A fourth gives the
# transient kernel one CPU (maxcpus=1): khib-save must use one thread.  Then
# three more with 192 MiB of stale random data in free memory, at level 1:
# everything saved (--no-trim --no-exclude-free), the trim's zeroing
# (--no-exclude-free), the free pages left out (--no-trim): the last two
# images must be 128 MiB smaller than the first.  Round 3 stores every chunk
# uncompressed (--level store).  With khib.poison=1 the transient kernel
# poisons every page it left out before it jumps back (khib-save
# --poison-excluded), so a page wrongly left out corrupts the checks that
# follow; each of the six saves that may leave pages out must have left
# some out and poisoned them.  Then the image size limit with a 512 MiB swap
# disk: without swap a limit below the memory in use is refused (exit 3,
# the target untouched); with swap a limit 160 MiB below the estimate is met
# by pushing memory to swap (the image on the target within it, the
# round trip verified); a limit below what can be freed is refused.
set -eu
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

kernel='' initrd='' work=''  # set by scenario_setup (lib/common.sh)
scenario_setup
truncate -s 1G "$work/target.img"
truncate -s 512M "$work/swap.img"

log "booting the guest (7 round trips, 2 refused)"
rc=0
run_guest "$work/serial.log" "$kernel" "$initrd" "khibtest.scenario=roundtrip khib.poison=1" \
    -drive "file=$work/target.img,if=virtio,format=raw" -drive "file=$work/swap.img,if=virtio,format=raw" || rc=$?
collect "$work/serial.log"
expect "$work/serial.log" "khib-save: using 1 thread and" "the transient kernel saved with one CPU (maxcpus=1)"
# Round 3 runs at --level store: every chunk stored uncompressed, and the
# round's checks show that the image restored.
if grep -q 'zstd level store' "$work/serial.log" &&
    grep -Eq 'stored in [0-9]+ chunks \([1-9][0-9]* of them uncompressed\)' "$work/serial.log"; then
    pass "B stored the chunks uncompressed at --level store"
else
    fail "B did not save a --level store image"
fi
check_exclusion "$work/serial.log" 6
if grep -q 'KHIBTEST: DONE' "$work/serial.log"; then
    pass "guest finished the scenario"
else
    fail "guest did not finish the scenario (qemu exit $rc)"
fi
[ "$FAILED" = 0 ] || show_log "$work/serial.log"
finish
