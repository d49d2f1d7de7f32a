#!/bin/sh
# make bench: throughput of khib-save and khib-restore against zstd,
# makedumpfile and cat on the same inputs (a benchmark, not a test).
#
# Inputs: a generated core (khib-gencore, realistic page mix) of
# $KHIB_BENCH_SIZE (default 2G) and the real guest memory images the QEMU
# harness has left, $KHIB_CACHE/guest-memory-WORKLOAD.core (make
# bench-qemu).  For each: a save table (cat to /dev/null as the I/O
# ceiling, khib-save at level 1 (the comparison with zstd -1) and at level
# auto (its default), zstd -T0 on the raw memory bytes at each setting of
# $KHIB_BENCH_ZSTD (default --fast=5 --fast=3 --fast=1 -1 -2 -3), makedumpfile's
# compressions on the core, khib-save --public-key with each cipher the CPU
# has) and a restore table (khib-restore into a memory file, of the images
# in clear and encrypted, zstd -d -T0 into a file).
# Throughput is memory bytes / wall time (monotonic clock) to a durable
# output (khib-save syncs its image; the other tools' output is synced with
# sync FILE), the median of $KHIB_BENCH_REPS (default 3) runs, with the page
# cache dropped before each run when that is allowed.  The last line
# compares khib with zstd on the generated core:
#   save_vs_zstd1=<ratio> restore_vs_zstd=<ratio> size_vs_zstd1=<ratio>
#   encrypt_cost=<ratio> restore_encrypt_cost=<ratio>
#   save_vs_best_zstd=<ratio> reference=<setting> (the zstd option, run with -T0)
# where the reference is the fastest zstd -T0 setting whose output is no
# larger than khib-save's level-1 image (the smallest output if none is).
# (the encrypted save's and restore's time over the ones in clear, both at
# level 1 with XChaCha20-Poly1305; docs/encryption.md).
#
# Environment: KHIB_BENCH_SIZE, KHIB_BENCH_REPS, KHIB_BENCH_DIR (work
# directory's parent; default /var/tmp, else /tmp), KHIB_BENCH_LEVELS (extra
# khib-save levels to measure, e.g. "-3 -1 3"), KHIB_BENCH_ZSTD (zstd
# settings; -1 is always measured), KHIB_CACHE.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
SAVE=$root/build/khib-save
RESTORE=$root/build/khib-restore
GEN=$root/build/khib-gencore
KHIB=$root/build/khib
# Encrypted rows (docs/encryption.md): x XChaCha20-Poly1305, a AES-256-GCM.
CIPHERS=x
grep -qw aes /proc/cpuinfo && CIPHERS="x a"
cipher_name() { if [ "$1" = a ]; then echo aes256gcm; else echo xchacha20poly1305; fi; }
SIZE=${KHIB_BENCH_SIZE:-2G}
REPS=${KHIB_BENCH_REPS:-3}
LEVELS=${KHIB_BENCH_LEVELS:-}
ZSTD_SETTINGS=${KHIB_BENCH_ZSTD:---fast=5 --fast=3 --fast=1 -1 -2 -3}
case " $ZSTD_SETTINGS " in *" -1 "*) ;; *) ZSTD_SETTINGS="-1 $ZSTD_SETTINGS" ;; esac
# zkey SETTING: the key of a zstd setting in the work files (-1 -> zstd_1).
zkey() { printf 'zstd%s' "$1" | tr -c 'a-zA-Z0-9' '_'; }
CACHE=${KHIB_CACHE:-$HOME/.cache/khib}

die() {
    echo "bench: $*" >&2
    exit 1
}

for c in "$SAVE" "$RESTORE" "$GEN"; do
    [ -x "$c" ] || die "$c is missing: run make first"
done
for c in zstd makedumpfile perl; do
    command -v "$c" >/dev/null || die "$c is missing (tools/install-deps.sh installs it)"
done

# --- work directory: about 4 times the inputs' size ---------------------------
size_bytes=$(echo "$SIZE" | awk '/[Gg]$/ { printf "%.0f\n", $0 * 1073741824; next }
                                 /[Mm]$/ { printf "%.0f\n", $0 * 1048576; next } { printf "%.0f\n", $0 }')
need_kib=$((size_bytes * 4 / 1024))
guests=0
for g in "$CACHE"/guest-memory-*.core; do  # measured one at a time: room for the largest
    [ -r "$g" ] || continue
    guests=$((guests + 1))
    k=$(($(du -k "$g" | cut -f1) * 4))
    [ "$k" -le "${guest_kib:-0}" ] || guest_kib=$k
done
need_kib=$((need_kib + ${guest_kib:-0}))
work=
for d in ${KHIB_BENCH_DIR:-} /var/tmp /tmp; do
    if [ ! -d "$d" ] || [ ! -w "$d" ]; then
        continue
    fi
    avail=$(df -Pk "$d" | awk 'NR == 2 { print $4 }')
    if [ "$avail" -ge "$need_kib" ]; then
        work=$(mktemp -d "$d/khib-bench.XXXXXX")
        break
    fi
done
[ -n "$work" ] || die "no directory with $((need_kib / 1024)) MiB free (set KHIB_BENCH_DIR)"
trap 'rm -rf "$work"' EXIT
trap 'rm -rf "$work"; exit 130' INT TERM

# --- clocks and caches ------------------------------------------------------------
if [ "$(id -u)" = 0 ] && sync && (echo 3 > /proc/sys/vm/drop_caches) 2>/dev/null; then
    drop=1
    cache="cold cache: the page cache is dropped before every run"
else
    drop=0
    cache="warm cache: the page cache cannot be dropped here (needs root)"
fi

drop_caches() {
    sync
    if [ "$drop" = 1 ]; then
        echo 3 > /proc/sys/vm/drop_caches
    fi
}

# timed KEY CMD...: run CMD (output to $work/log.KEY) and append its wall
# time in seconds (CLOCK_MONOTONIC) to $work/times.KEY; fail as CMD fails.
timed() {
    key=$1
    shift
    TIMES=$work/times.$key perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e '
        my $t = clock_gettime(CLOCK_MONOTONIC);
        my $rc = system(@ARGV);
        my $d = clock_gettime(CLOCK_MONOTONIC) - $t;
        exit 1 if $rc != 0;
        open(my $f, ">>", $ENV{TIMES}) or die "times: $!";
        printf $f "%.6f\n", $d;' -- "$@" >"$work/log.$key" 2>&1
}

# once KEY OUTPUT CMD...: one timed run of CMD after removing OUTPUT (a file
# in $work, or - for none) and dropping the page cache.  A failure is
# recorded in $work/fail.KEY (the last meaningful line of its output), and
# later runs of KEY are skipped.
once() {
    key=$1 out=$2
    shift 2
    [ ! -e "$work/fail.$key" ] || return 0
    case $out in
    "$work"/*) rm -f "$out" ;;
    esac
    drop_caches
    timed "$key" "$@" || last_words "$key" > "$work/fail.$key"
}

# The median of KEY's times.
median() {
    sort -n "$work/times.$1" | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'
}

fsize() { stat -c %s "$1"; }

# The slowest and fastest runs of KEY as MB/s for BYTES: "lo-hi".
spread() {
    sort -n "$work/times.$1" | awk -v b="$2" 'NR == 1 { hi = b / 1e6 / $1 } { lo = b / 1e6 / $1 }
                                             END { printf "%.0f-%.0f", lo, hi }'
}

# row KEY NAME BYTES SECONDS [OUTPUT_BYTES]: one table line; sets $mbs.
row() {
    mbs=$(awk -v b="$3" -v t="$4" 'BEGIN { printf "%.0f", b / 1e6 / t }')
    range=$(spread "$1" "$3")
    if [ $# -ge 5 ]; then
        awk -v n="$2" -v m="$mbs" -v r="$range" -v b="$3" -v o="$5" \
            'BEGIN { printf "  %-42s %8s %11s %12.1f %8.2f\n", n, m, r, o / 1048576, b / o }'
    else
        printf '  %-42s %8s %11s %12s %8s\n' "$2" "$mbs" "$range" - -
    fi
}

header() {
    printf '  %-42s %8s %11s %12s %8s\n' "$1" "MB/s" "(runs)" "$2" "ratio"
}

fail_row() { # fail_row NAME MESSAGE
    printf '  %-42s %s\n' "$1" "$2"
}

last_words() { # last_words KEY: the last meaningful line of KEY's output
    tr '\r' '\n' < "$work/log.$1" | grep -v '^[[:space:]]*$' | grep -v '%\]' | grep -v 'Failed\.$' |
        tail -n 1
}

# result KEY NAME BYTES [OUTPUT]: the row of KEY (median time; OUTPUT's
# size), or its failure; sets $mbs (0 on failure).
result() {
    key=$1 name=$2 bytes=$3
    mbs=0
    if [ -e "$work/fail.$key" ]; then
        fail_row "$name" "failed: $(cat "$work/fail.$key")"
    elif [ $# -ge 4 ]; then
        row "$key" "$name" "$bytes" "$(median "$key")" "$(fsize "$4")"
    else
        row "$key" "$name" "$bytes" "$(median "$key")"
    fi
}

# --- the machine ------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
echo "khib benchmark: $(nproc) CPUs ($cpu), $mem RAM, Linux $(uname -r)"
echo "  $(zstd --version | head -n 1); makedumpfile $(makedumpfile -v 2>&1 | sed -n 's/^makedumpfile: version \([^ ]*\).*/\1/p')"
echo "  work files in $work ($(df -PT "$work" | awk 'NR == 2 { print $2 }')); $cache"
echo "  MB/s = memory bytes / wall time, the median of $REPS runs (the slowest and fastest in parentheses; the"
echo "  tools' runs alternate); every save's time runs until its output is on the disk (khib-save's"
echo "  commit protocol syncs; the others are followed by sync FILE)"
# CPU time the whole machine has spent busy, in clock ticks.
cpu_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
busy0=$(cpu_busy)
wall0=$(awk '{ print $1 }' /proc/uptime)
ticks=$(getconf CLK_TCK)

# bench_input NAME CORE: both tables for one core; sets save_mbs zstd1_mbs
# restore_mbs zstdd_mbs img_bytes zst1_bytes.  The runs of the tools
# alternate (run 1 of every tool, then run 2, ...) so that a machine whose
# speed drifts treats them alike.
bench_input() {
    name=$1 core=$2
    rm -f "$work"/times.* "$work"/fail.* "$work"/log.*
    "$GEN" --extract "$core" --raw "$work/raw" --aligned "$work/aligned.core" > "$work/extract" ||
        die "cannot extract the memory of $core"
    if grep -q '^aligned /' "$work/extract"; then
        core=$work/aligned.core
        note=" (data re-laid at page-aligned offsets for khib-save, the same for every tool)"
    else
        note=
    fi
    bytes=$(fsize "$work/raw")
    echo
    echo "== $name: $(awk -v b="$bytes" 'BEGIN { printf "%.1f MiB", b / 1048576 }') of memory$note"

    # makedumpfile warns about a compression its build lacks and writes the
    # dump uncompressed: find out on a small core first.
    mdf=
    for m in c l p z; do
        rm -f "$work/probe.dump"
        makedumpfile "-$m" -d 1 "$work/probe.core" "$work/probe.dump" > "$work/log.probe" 2>&1 || true
        if grep -Eq "is disabled|not supported|doesn't support" "$work/log.probe"; then
            tr '\r' '\n' < "$work/log.probe" | grep -E 'disabled|support' | head -n 1 > "$work/missing.$m"
        else
            mdf="$mdf $m"
        fi
    done

    # Encrypted images go to targets with a key header (fixed size: room
    # for the memory in clear); Argon2id made cheap, the restore rows are
    # about the data.
    echo 'bench passphrase' > "$work/pass"
    for c in $CIPHERS; do
        rm -f "$work/enc$c"
        truncate -s "$((bytes + bytes / 8 + (64 << 20)))" "$work/enc$c"
        "$KHIB" setup-encryption --config /dev/null --target "$work/enc$c" --public-key "$work/pub$c" \
            --argon2-ops 1 --argon2-mem 8M --passphrase-fd 3 3<"$work/pass" > /dev/null ||
            die "khib setup-encryption failed"
    done

    i=0
    while [ "$i" -lt "$REPS" ]; do
        # shellcheck disable=SC2016 # $1 is for the inner shell
        once cat - sh -c 'cat "$1" > /dev/null' sh "$core"
        # Level 1 against zstd -1: the same work.  Level auto, khib-save's
        # default, stores chunks uncompressed where the CPUs are slower than
        # the disk.
        once save "$work/img" "$SAVE" --core "$core" --target "$work/img" --quiet --level 1
        once save1 "$work/img1" "$SAVE" --core "$core" --target "$work/img1" --quiet --level 1 --threads 1
        once savemmap "$work/imgm" "$SAVE" --core "$core" --target "$work/imgm" --quiet --level 1 --mmap
        once saveauto "$work/imgauto" "$SAVE" --core "$core" --target "$work/imgauto" --quiet --level auto
        for c in $CIPHERS; do
            once "save$c" - "$SAVE" --core "$core" --target "$work/enc$c" --quiet --level 1 \
                --public-key "$(cat "$work/pub$c")" --cipher "$(cipher_name "$c")"
        done
        for l in $LEVELS; do
            once "level$l" "$work/img$l" "$SAVE" --core "$core" --target "$work/img$l" --quiet --level "$l"
        done
        # The other tools' output is synced too (coreutils sync FILE: fsync),
        # as khib-save's commit protocol syncs its image: every save row is
        # the time to a durable output.
        # shellcheck disable=SC2016 # $1, $2 are for the inner shell
        for z in $ZSTD_SETTINGS; do
            k=$(zkey "$z")
            # shellcheck disable=SC2016
            once "$k" "$work/raw.$k" sh -c 'zstd "$1" -T0 -q -f "$2" -o "$3" && sync "$3"' sh "$z" "$work/raw" \
                "$work/raw.$k"
        done
        for m in $mdf; do
            # shellcheck disable=SC2016
            once "mdf$m" "$work/dump.$m" sh -c 'makedumpfile "$1" -d 1 "$2" "$3" && sync "$3"' sh "-$m" "$core" \
                "$work/dump.$m"
        done
        i=$((i + 1))
    done

    header save "output MiB"
    result cat "cat core > /dev/null (I/O ceiling)" "$bytes"
    threads=$(sed -n 's/^khib-save: using \([0-9]*\) threads\{0,1\}.*/\1/p' "$work/log.save")
    result save "khib-save (level 1, ${threads:-?} threads)" "$bytes" "$work/img"
    save_mbs=$mbs
    img_bytes=0
    [ "$mbs" = 0 ] || img_bytes=$(fsize "$work/img")
    result save1 "khib-save --threads 1" "$bytes" "$work/img1"
    result savemmap "khib-save --mmap (mapped, as /dev/mem)" "$bytes" "$work/imgm"
    result saveauto "khib-save --level auto (the default)" "$bytes" "$work/imgauto"
    auto_bytes=0
    [ "$mbs" = 0 ] || auto_bytes=$(fsize "$work/imgauto")
    for l in $LEVELS; do
        result "level$l" "khib-save --level $l" "$bytes" "$work/img$l"
    done
    savex_mbs=0
    for c in $CIPHERS; do
        result "save$c" "khib-save --public-key, $(cipher_name "$c")" "$bytes"
        [ "$c" = a ] || savex_mbs=$mbs
    done
    # Every zstd setting; the reference is the fastest whose output is no
    # larger than khib-save's level-1 image, else the smallest output.
    best='' best_mbs=0 small='' small_bytes=0 small_mbs=0 zstd1_mbs=0 zst1_bytes=0
    for z in $ZSTD_SETTINGS; do
        k=$(zkey "$z")
        result "$k" "zstd $z -T0 (raw bytes)" "$bytes" "$work/raw.$k"
        [ "$mbs" != 0 ] || continue
        zb=$(fsize "$work/raw.$k")
        if [ "$z" = -1 ]; then
            zstd1_mbs=$mbs zst1_bytes=$zb
        fi
        if [ "$zb" -le "$img_bytes" ] && [ "$mbs" -gt "$best_mbs" ]; then
            best=$z best_mbs=$mbs
        fi
        if [ -z "$small" ] || [ "$zb" -lt "$small_bytes" ]; then
            small=$z small_bytes=$zb small_mbs=$mbs
        fi
    done
    if [ -n "$best" ]; then
        best_note="the fastest zstd setting whose output is no larger than khib-save's"
    else
        best=$small best_mbs=$small_mbs
        best_note="no zstd setting's output is as small as khib-save's: the smallest"
    fi
    awk -v s="$save_mbs" -v b="$best_mbs" -v z="$best" -v n="$best_note" 'BEGIN {
        printf "  reference: zstd %s -T0, %s; khib-save (level 1) runs at %.2f x its speed\n", z, n, (b > 0 ? s / b : 0) }'
    for m in c l p z; do
        case $m in
        c) label="makedumpfile -c (zlib) -d 1" ;;
        l) label="makedumpfile -l (lzo) -d 1" ;;
        p) label="makedumpfile -p (snappy) -d 1" ;;
        z) label="makedumpfile -z (zstd) -d 1" ;;
        esac
        if [ -e "$work/missing.$m" ]; then
            fail_row "$label" "not in this build: $(cat "$work/missing.$m")"
        elif [ -e "$work/fail.mdf$m" ]; then
            fail_row "$label" "makedumpfile: cannot process this core: $(cat "$work/fail.mdf$m")"
        else
            result "mdf$m" "$label" "$bytes" "$work/dump.$m"
        fi
    done
    mv "$work/imgauto" "$work/auto" 2>/dev/null || true
    for z in $ZSTD_SETTINGS; do
        [ "$z" = -1 ] || rm -f "$work/raw.$(zkey "$z")"
    done
    rm -f "$work"/img?* "$work"/dump.*

    i=0
    while [ "$i" -lt "$REPS" ] && [ "$img_bytes" != 0 ]; do
        once restore "$work/mem" "$RESTORE" --image "$work/img" --memory-file "$work/mem" --quiet
        once restore1 "$work/mem" "$RESTORE" --image "$work/img" --memory-file "$work/mem" --quiet --threads 1
        once zstdd "$work/out" zstd -d -T0 -q -f "$work/raw.$(zkey -1)" -o "$work/out"
        if [ "$auto_bytes" != 0 ]; then
            once restoreauto "$work/mem" "$RESTORE" --image "$work/auto" --memory-file "$work/mem" --quiet
        fi
        for c in $CIPHERS; do
            # shellcheck disable=SC2016 # for the inner shell
            once "restore$c" "$work/mem" sh -c '"$1" --image "$2" --memory-file "$3" --quiet --passphrase-fd 3 3<"$4"' \
                sh "$RESTORE" "$work/enc$c" "$work/mem" "$work/pass"
        done
        i=$((i + 1))
    done
    header restore "input MiB"
    if [ "$img_bytes" != 0 ]; then
        threads=$(sed -n 's/^khib-restore: using \([0-9]*\) threads\{0,1\}.*/\1/p' "$work/log.restore")
        result restore "khib-restore --memory-file (${threads:-?} threads)" "$bytes" "$work/img"
        restore_mbs=$mbs
        result restore1 "khib-restore --threads 1" "$bytes" "$work/img"
        result zstdd "zstd -d -T0 (of zstd -1) into a file" "$bytes" "$work/raw.$(zkey -1)"
        zstdd_mbs=$mbs
        [ "$auto_bytes" = 0 ] || result restoreauto "khib-restore of the level auto image" "$bytes" "$work/auto"
        restorex_mbs=0
        for c in $CIPHERS; do
            result "restore$c" "khib-restore, encrypted ($(cipher_name "$c"))" "$bytes"
            [ "$c" = a ] || restorex_mbs=$mbs
        done
    else
        fail_row "khib-restore" "no image to restore"
        restore_mbs=0
        zstdd_mbs=1
    fi
    rm -f "$work/mem" "$work/out" "$work/img" "$work/auto" "$work/raw" "$work/raw.$(zkey -1)" "$work/aligned.core" \
        "$work"/enc? "$work"/pub?
}

"$GEN" --out "$work/probe.core" --size 1M --note > /dev/null || die "khib-gencore failed"
"$GEN" --out "$work/gen.core" --size "$SIZE" --seed 42 --ranges 4 --note > /dev/null ||
    die "khib-gencore failed"
bench_input "generated core (khib-gencore --size $SIZE --seed 42: zero, repeated, text, random, sparse pages)" \
    "$work/gen.core"
rm -f "$work/gen.core"
g_save=$save_mbs g_zstd1=$zstd1_mbs g_restore=$restore_mbs g_zstdd=$zstdd_mbs g_img=$img_bytes g_zst1=$zst1_bytes
g_savex=$savex_mbs g_restorex=$restorex_mbs g_best=$best g_best_mbs=$best_mbs

# The guest memory images bench/qemu.sh dumps, one per workload.
for g in "$CACHE"/guest-memory-*.core; do
    [ -r "$g" ] || continue
    w=${g##*/guest-memory-}
    bench_input "guest memory image, workload ${w%.core} ($g)" "$g"
done
if [ "$guests" = 0 ]; then
    echo
    echo "== guest memory images: none in $CACHE (make bench-qemu dumps them); skipped"
fi

# Was the machine ours?  The CPU time everything took, less what the
# benchmark's processes took (`times`: this shell and its children).
times > "$work/self"
ours=$(awk 'NR == 2 { gsub(/s/, "", $1); gsub(/s/, "", $2); split($1, u, "m"); split($2, y, "m");
                      print u[1] * 60 + u[2] + y[1] * 60 + y[2] }' "$work/self")
awk -v b0="$busy0" -v b1="$(cpu_busy)" -v t="$ticks" -v o="$ours" -v w0="$wall0" -v w1="$(awk '{ print $1 }' /proc/uptime)" \
    -v n="$(nproc)" 'BEGIN {
    other = (b1 - b0) / t - o; if (other < 0) other = 0
    cap = (w1 - w0) * n
    printf "\nother processes (and the kernel'"'"'s own work) used %.0f of the %.0f CPU-seconds the run had (%.0f %%)%s\n",
        other, cap, 100 * other / cap, (other / cap > 0.1 ? ": the figures are lower and noisier than on an idle machine" : "") }'
echo
awk -v s="$g_save" -v z="$g_zstd1" -v r="$g_restore" -v d="$g_zstdd" -v i="$g_img" -v o="$g_zst1" \
    -v sx="$g_savex" -v rx="$g_restorex" 'BEGIN {
    printf "save_vs_zstd1=%.2f restore_vs_zstd=%.2f size_vs_zstd1=%.3f encrypt_cost=%.2f restore_encrypt_cost=%.2f\n",
        (z > 0 ? s / z : 0), (d > 0 ? r / d : 0), (o > 0 ? i / o : 0), (sx > 0 ? s / sx : 0), (rx > 0 ? r / rx : 0) }'
# The reference is the zstd option, run with -T0 (e.g. reference=-3).
awk -v s="$g_save" -v b="$g_best_mbs" -v z="$g_best" 'BEGIN {
    printf "save_vs_best_zstd=%.2f reference=%s\n", (b > 0 ? s / b : 0), (z == "" ? "none" : z) }'
