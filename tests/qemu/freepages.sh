#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# The free page finder (lib/freepages.h, docs/freepages.md) against real
# kernels: a guest of each test kernel holds and frees memory in known
# patterns (guest/freepages.sh) and idles; the host stops it, takes a memory
# dump with QMP dump-guest-memory (an ELF core with physical addresses) and
# runs build/khib-freepages over it with the guest's VMCOREINFO address.
#
# Checks, per kernel: the finder succeeds with its own cross-check (the zones'
# NR_FREE_PAGES read from the dump); the pages found free match the guest's
# last MemFree within the finder's margin (1024 pages + 1%); every page the
# guest still holds is found in the dump and none is in a free run; most of
# the pages of the killed process are in free runs (the finder finds real
# free memory, not just a count); the struct page field of the kernel
# (compound_head on 6.12, compound_info from 7.1).
#
# Usage: freepages.sh [KERNEL...]   recipes; default $KHIB_KERNEL when set
#                                   (run-all.sh), else "6.12 7.2"
# KHIB_FREEPAGES_KEEP=DIR keeps each guest's VMCOREINFO text there.
set -eu
if [ "$#" = 0 ]; then
    if [ -n "${KHIB_KERNEL:-}" ]; then set -- "$KHIB_KERNEL"; else set -- 6.12 7.2; fi
fi
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

make -s -C "$KHIB_TOP" build/khib-freepages >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
KEEP=4242:64
GONE=777:96

# field OUT KEY: the value of KEY=value in the tool's output.
field() {
    printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

for name in "$@"; do
    start=$(date +%s)
    kernel=$(test_kernel "$name")
    initrd=$(guest_initrd "$kernel")
    glog="$work/$name.log"
    sock="$work/$name.qmp"
    dump="$work/$name.core"
    GUEST_MEM=512M run_guest "$glog" "$kernel" "$initrd" "khibtest.scenario=freepages" \
        -qmp "unix:$sock,server=on,wait=off" &
    qpid=$!
    if ! wait_line "$glog" "KHIBFP: memfree" "$qpid" 300; then
        fail "$name: the guest never became ready"
        show_log "$glog"
        kill "$qpid" 2>/dev/null || true
        wait "$qpid" || true
        continue
    fi
    if ! qmp "$sock" '{"execute":"qmp_capabilities"}' '{"execute":"stop"}' \
        "{\"execute\":\"dump-guest-memory\",\"arguments\":{\"paging\":false,\"protocol\":\"file:$dump\"}}" \
        '{"execute":"quit"}'; then
        fail "$name: QMP stop and dump-guest-memory"
        kill "$qpid" 2>/dev/null || true
    fi
    wait "$qpid" || true
    release=$(sed -n 's/.*KHIBFP: release //p' "$glog" | tr -d '\r' | head -n 1)
    vmci=$(sed -n 's/.*KHIBFP: vmcoreinfo //p' "$glog" | tr -d '\r' | head -n 1)
    note_pa=${vmci%% *} note_size=${vmci#* }
    memfree_kb=$(sed -n 's/.*KHIBFP: memfree \([0-9]*\).*/\1/p' "$glog" | tail -n 1)
    memfree=$((memfree_kb / 4))
    rc=0
    out=$("$KHIB_TOP/build/khib-freepages" "$dump" "$note_pa" "$note_size" --keep "$KEEP" --gone "$GONE" \
        --save-vmcoreinfo "$work/$name.vmcoreinfo" 2>&1) || rc=$?
    if [ -n "${KHIB_FREEPAGES_KEEP:-}" ] && [ -f "$work/$name.vmcoreinfo" ]; then
        mkdir -p "$KHIB_FREEPAGES_KEEP"
        cp "$work/$name.vmcoreinfo" "$KHIB_FREEPAGES_KEEP/$name.vmcoreinfo"
    fi
    printf '%s\n' "$out" | sed "s/^/$name: /" >&2
    found=$(field "$out" free_pages)
    zone=$(field "$out" zone_free)
    margin=$(field "$out" margin)
    if printf '%s\n' "$out" | grep -q '^result=ok'; then
        pass "$name ($release): $found free pages found, A's zone counters say $zone (margin $margin)"
    else
        fail "$name ($release): the finder fell back: $(printf '%s\n' "$out" | sed -n 's/^result=//p')"
    fi
    found=${found:-0}
    diff=$((found - memfree))
    [ "$diff" -ge 0 ] || diff=$((-diff))
    limit=$((1024 + memfree / 100))
    if [ "$diff" -le "$limit" ]; then
        pass "$name: $found free pages against MemFree $memfree pages: off by $diff, margin $limit"
    else
        fail "$name: $found free pages against MemFree $memfree pages: off by $diff, more than $limit"
    fi
    keep=$(printf '%s\n' "$out" | sed -n 's/^keep_//p')
    kpages=$(field "$keep" pages) kfound=$(field "$keep" found) kfree=$(field "$keep" in_free_runs)
    if [ -n "$kfound" ] && [ "$kfound" = "$kpages" ] && [ "$kfree" = 0 ]; then
        pass "$name: all $kpages pages the guest holds are in the dump, none in a free run"
    else
        fail "$name: held pages: $keep (exit $rc)"
    fi
    gone=$(printf '%s\n' "$out" | sed -n 's/^gone_//p')
    gfound=$(field "$gone" found) gfree=$(field "$gone" in_free_runs)
    if [ -n "$gfound" ] && [ "$gfound" -gt 0 ] && [ $((gfree * 2)) -ge "$gfound" ]; then
        pass "$name: $gfree of the $gfound pages left by the killed process still in the dump are free"
    else
        fail "$name: pages of the killed process: $gone"
    fi
    # The caller's count (MemFree) instead of the zones', and a wrong one.
    tool() { "$KHIB_TOP/build/khib-freepages" "$dump" "$note_pa" "$note_size" "$@" 2>&1 | sed -n 's/^result=//p'; }
    r=$(tool --expect "$memfree")
    case "$r" in
        ok*) pass "$name: the cross-check with MemFree as the caller's count passes" ;;
        *) fail "$name: the cross-check with MemFree as the caller's count: $r" ;;
    esac
    r=$(tool --expect $((found + found / 10 + 2048)))
    case "$r" in
        "fallback found"*"more than the margin"*) pass "$name: a count 10% + 2048 pages off falls back" ;;
        *) fail "$name: a count 10% + 2048 pages off: $r" ;;
    esac
    # Not a check: what B finds while A's window contents cannot be read.
    log "$name: with [0, 192 MiB) unreadable: $(tool --window 0xc000000)"
    case "$name" in
        6.12*) want=compound_head ;;
        *) want=compound_info ;;
    esac
    expect_field=$(field "$out" compound_field)
    layout=$(printf '%s\n' "$out" | sed -n 's/^layout=//p')
    case "$layout" in
        "page type in the top byte"*) layout_ok=1 ;;
        *) layout_ok= ;;
    esac
    if [ "$expect_field" = "$want" ] && [ -n "$layout_ok" ]; then
        pass "$name: struct page's tail field is $want, the page type is in page_type's top byte"
    else
        fail "$name: struct page's tail field '$expect_field' (expected $want), layout '$layout'"
    fi
    rm -f "$dump"
    log "$name: $(($(date +%s) - start)) s"
done
finish
