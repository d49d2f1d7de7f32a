#!/bin/sh
# make check-fuzz: build the libFuzzer harnesses (build/fuzz/fuzz_NAME), make
# seed corpora from real images and core headers (khib-gencore, khib-save),
# run each harness for FUZZ_SECONDS, and end with "N passed, N failed" (a
# harness passes when it found no crash).  docs/fuzzing.md.
#
#   FUZZ_SECONDS=30       time per harness
#   FUZZ_TARGETS="..."    harnesses to run (default: all five)
#   FUZZ_JOBS=1           libFuzzer processes per harness (-fork)
#   FUZZ_ARGS=            more libFuzzer options
#
# New inputs accumulate in build/fuzz/corpus/NAME; a crash is saved as
# build/fuzz/artifacts/NAME/crash-*: keep it as tests/fuzz/crashers/NAME/,
# where the unit test test_fuzz_replay replays it once fixed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${FUZZ_SECONDS:-30}
targets=${FUZZ_TARGETS:-superblock index image elfcore handoff}
jobs=${FUZZ_JOBS:-1}
extra=${FUZZ_ARGS:-}
out="$root/build/fuzz"

${MAKE:-make} -s -C "$root" all fuzz >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/khib-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
GEN="$root/build/khib-gencore"
SAVE="$root/build/khib-save"

# le64 N: N as 8 little-endian bytes.
le64() {
    v=$1
    i=0
    while [ "$i" -lt 8 ]; do
        printf '%b' "\\0$(printf '%o' $((v & 255)))"
        v=$((v >> 8))
        i=$((i + 1))
    done
}

# u64 FILE OFFSET: the little-endian 64-bit number at OFFSET.
u64() {
    od -An -t u8 -j "$2" -N 8 "$1" | tr -d ' '
}

# --- seeds --------------------------------------------------------------------
for t in superblock index image elfcore handoff; do
    mkdir -p "$work/seeds/$t" "$out/corpus/$t" "$out/artifacts/$t"
done
if command -v mkfs.ext4 >/dev/null; then
    truncate -s 4M "$work/ext.fs"
    mkfs.ext4 -q -F "$work/ext.fs" >/dev/null 2>&1 || rm -f "$work/ext.fs"
fi
n=0
for spec in "32K 1 --ranges 2" "32K 2 --ranges 2" "32K 3 --ranges 1" "32K 4 --ranges 3" "32K 6 --ranges 2" \
    "64K 7 --ranges 2 --note --mailbox --window 16K" "8K 8 --ranges 2 --note --level 3" \
    "2M 9 --ranges 4 --note --mailbox" "ext 10 --ranges 2 --note"; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    set -- $spec
    size=$1 seed=$2
    shift 2
    if [ "$size" = ext ]; then
        [ -e "$work/ext.fs" ] || continue
        size=16K
        set -- "$@" --fs "ext4:$work/ext.fs"
    fi
    core="$work/$n.core"
    img="$work/$n.img"
    "$GEN" --out "$core" --size "$size" --seed "$seed" "$@" >/dev/null
    if ! "$SAVE" --core "$core" --target "$img" --quiet > "$work/save.log" 2>&1; then
        echo "fuzz: khib-save failed on the seed core $spec:" >&2
        sed 's/^/    /' "$work/save.log" >&2
        exit 1
    fi
    bytes=$(wc -c < "$img")
    # (a) the superblock and the image's size
    { head -c 4096 "$img"; le64 "$bytes"; } > "$work/seeds/superblock/$n"
    # (b) the superblock and the index
    { head -c 4096 "$img"; tail -c +$(($(u64 "$img" 216) + 1)) "$img" | head -c "$(u64 "$img" 224)"; } \
        > "$work/seeds/index/$n"
    # (c) the whole image, when small
    [ "$bytes" -gt 65536 ] || cp "$img" "$work/seeds/image/$n"
    # (d) the core's headers and the start of its data; a headers-only core
    head -c 4096 "$core" > "$work/seeds/elfcore/$n"
    "$GEN" --out "$work/$n.hdr" --memfile "$work/$n.mem" --size "$size" --seed "$seed" "$@" > "$work/$n.txt"
    cp "$work/$n.hdr" "$work/seeds/elfcore/$n.hdr"
    # (e) the note's descriptor (PT_NOTE first, its descriptor after the
    # 12-byte note header and the 8-byte name) and the mailbox page
    if [ "$(od -An -t u4 -j 64 -N 4 "$core" | tr -d ' ')" = 4 ]; then
        tail -c +$(($(u64 "$core" 72) + 21)) "$core" | head -c 784 > "$work/seeds/handoff/$n.note"
    fi
    mbx=$(sed -n 's/^mailbox 0x\([0-9a-f]*\) .*/\1/p' "$work/$n.txt")
    if [ -n "$mbx" ]; then
        dd if="$work/$n.mem" of="$work/seeds/handoff/$n.mbx" bs=4096 skip=$((0x$mbx / 4096)) count=1 2>/dev/null
    fi
    rm -f "$work/$n.mem"
done

# --- runs ---------------------------------------------------------------------
passed=0
failed=0
for t in $targets; do
    case $t in
        superblock) max=4200 ;;
        index) max=16384 ;;
        image) max=65536 ;;
        elfcore) max=8192 ;;
        handoff) max=4096 ;;
        *)
            echo "fuzz: unknown harness $t" >&2
            failed=$((failed + 1))
            continue
            ;;
    esac
    log="$out/fuzz_$t.log"
    opts=$extra
    [ "$jobs" = 1 ] || opts="-fork=$jobs $opts"
    # The kept crashers are run first: they must all pass.
    crashers=
    [ ! -d "$here/crashers/$t" ] || crashers="$here/crashers/$t"
    rc=0
    # shellcheck disable=SC2086
    "$out/fuzz_$t" -max_total_time="$seconds" -max_len="$max" -timeout=20 -rss_limit_mb=4096 \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" $opts \
        "$out/corpus/$t" "$work/seeds/$t" $crashers > "$log" 2>&1 || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\).*/\1 edges, \2 features/p' "$log" | tail -n 1)
    corpus=$(find "$out/corpus/$t" -type f | wc -l)
    if [ "$rc" = 0 ] && ! grep -q '^==[0-9]*==ERROR\|^SUMMARY: \|invariant broken' "$log"; then
        passed=$((passed + 1))
        echo "fuzz_$t: passed: ${runs:-?} runs in ${seconds} s, coverage ${cov:-?}, corpus $corpus"
    else
        failed=$((failed + 1))
        echo "fuzz_$t: FAILED (exit $rc) after ${runs:-?} runs; log $log"
        grep -E '^==[0-9]+==ERROR|^SUMMARY|invariant broken|^artifact_prefix|Test unit written' "$log" |
            sed 's/^/    /' | head -n 20
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
