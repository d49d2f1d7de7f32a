#!/bin/sh
# Source coverage of the fuzz corpora (not a test): build each harness with
# clang's source-based coverage into build/fuzz/cov/, run it once over
# build/fuzz/corpus/NAME and tests/fuzz/crashers/NAME, and print llvm-cov's
# report for the parser sources it exercises.  Run tests/fuzz/run.sh first
# to grow the corpora.  docs/fuzzing.md.
#
#   FUZZ_TARGETS="..."   harnesses (default: all five)
#   FUZZ_SHOW=1          also print the uncovered lines
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
targets=${FUZZ_TARGETS:-superblock index image elfcore handoff}
cc=${FUZZ_CC:-clang}
zstd=${ZSTD_A:-/usr/lib/x86_64-linux-gnu/libzstd.a}
llvm_cov=$(command -v llvm-cov || command -v llvm-cov-14)
llvm_profdata=$(command -v llvm-profdata || command -v llvm-profdata-14)
cov="$root/build/fuzz/cov"
mkdir -p "$cov"
cd "$root"

for t in $targets; do
    case $t in
        superblock) srcs="lib/image_codec.c restorer/info.c" ;;
        index) srcs="lib/image_codec.c" ;;
        image) srcs="lib/image.c lib/image_codec.c lib/chunk_expand.c restorer/info.c restorer/checks.c" ;;
        elfcore) srcs="lib/elfcore.c lib/handoff_codec.c" ;;
        handoff) srcs="lib/handoff_codec.c lib/mailbox_post.c" ;;
        *)
            echo "coverage: unknown harness $t" >&2
            exit 1
            ;;
    esac
    # shellcheck disable=SC2046
    "$cc" -O1 -g -fprofile-instr-generate -fcoverage-mapping -fsanitize=fuzzer -std=c11 -Ilib \
        -DKHIB_FUZZ_TARGET="khib_fuzz_$t" -o "$cov/fuzz_$t" tests/fuzz/entry.c "tests/fuzz/fuzz_$t.c" \
        tests/fuzz/common.c restorer/info.c restorer/checks.c $(ls lib/*.c) "$zstd" -pthread
    dirs="build/fuzz/corpus/$t"
    [ ! -d "tests/fuzz/crashers/$t" ] || dirs="$dirs tests/fuzz/crashers/$t"
    rm -f "$cov/$t.profraw"
    # shellcheck disable=SC2086
    LLVM_PROFILE_FILE="$cov/$t.profraw" "$cov/fuzz_$t" -runs=0 $dirs >/dev/null 2>&1
    "$llvm_profdata" merge -o "$cov/$t.profdata" "$cov/$t.profraw"
    echo "== fuzz_$t"
    # shellcheck disable=SC2086
    "$llvm_cov" report "$cov/fuzz_$t" -instr-profile="$cov/$t.profdata" $srcs |
        awk 'NR > 2 && !/^-/ { printf "  %-24s lines %6s  branches %6s  functions %6s\n", $1, $10, $13, $7 }'
    if [ "${FUZZ_SHOW:-0}" = 1 ]; then
        # shellcheck disable=SC2086
        "$llvm_cov" show "$cov/fuzz_$t" -instr-profile="$cov/$t.profdata" $srcs | grep -E '^ +[0-9]+\| +0\|' || true
    fi
done
