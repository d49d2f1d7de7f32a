#!/bin/sh
# End-to-end scenarios of khib-save and khib-restore on ordinary files: round
# trips (up to 1 GiB), damaged images, state handling, a target too small,
# and every refusal of the restorer.  Ends with "N passed, N failed".
# The restorer only ever writes to --memory-file here: never to /dev/mem.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
SAVE="$root/build/khib-save"
RESTORE="$root/build/khib-restore"
GEN="$root/build/khib-gencore"
TOOL="$root/build/tests/tool"
BIG=${KHIB_UNIT_BIG:-1G}

work=$(mktemp -d "${TMPDIR:-/tmp}/khib-unit.XXXXXX")
fsdir=$(mktemp -d /tmp/khibfs.XXXXXX)
trap 'rm -rf "$work" "$fsdir"' EXIT
# shellcheck source=tests/lib/check.sh
# shellcheck disable=SC1091 # followed by shellcheck -x
. "$root/tests/lib/check.sh"



state_of() { "$RESTORE" --image "$1" --info 2>/dev/null | sed -n 's/^state: *//p'; }
field() { "$RESTORE" --image "$1" --info 2>/dev/null | sed -n "s/^$2: *//p"; }

# roundtrip NAME SIZE GENERATOR-OPTIONS...: generate, save, verify, restore
# into a memory file, compare every range.
roundtrip() {
    rt=$1 size=$2
    shift 2
    "$GEN" --out "$work/$rt.core" --size "$size" "$@" >/dev/null
    expect "$rt: save" 0 "saved image" "$SAVE" --core "$work/$rt.core" --target "$work/$rt.img" --quiet
    expect "$rt: verify" 0 "is intact" "$RESTORE" --image "$work/$rt.img" --verify --quiet
    expect "$rt: restore" 0 "restored image" "$RESTORE" --image "$work/$rt.img" \
        --memory-file "$work/$rt.mem" --quiet
    expect "$rt: memory identical" 0 "^identical" "$GEN" --compare "$work/$rt.core" --memory "$work/$rt.mem"
    rm -f "$work/$rt.mem"
}

# --- programs answer --help, refuse bad usage -------------------------------
expect "khib-save --help" 0 "^Usage: khib-save" "$SAVE" --help
expect "khib-restore --help" 0 "^Usage: khib-restore" "$RESTORE" --help
expect "khib-gencore --help" 0 "^Usage: khib-gencore" "$GEN" --help
expect "khib-save: no input" 1 "exactly one of --core" "$SAVE" --target "$work/x"
expect "khib-save: bad option" 1 "" "$SAVE" --bogus
expect "khib-save: bad entry" 1 "needs a hex address" "$SAVE" --core x --jump-back-entry zz
expect "khib-restore: no image" 1 "--image PATH .*is required" "$RESTORE" --verify
expect "khib-restore: --jump with a memory file" 1 "needs real memory" \
    "$RESTORE" --image x --memory-file y --jump
expect "khib-restore: --info with --consume" 1 "write nothing" "$RESTORE" --image x --info --consume

# --- round trips ---------------------------------------------------------------
roundtrip small 4M --ranges 1 --seed 1
roundtrip ranges 64M --ranges 5 --seed 2
roundtrip tiny 8K --ranges 2 --seed 3

# --- threads ---------------------------------------------------------------------
# At a fixed level (level auto depends on the disk's timing), the image does
# not depend on the number of threads: the same bytes after the
# superblock (which differs in UUID and times) with 1, 2, 3 and 5 workers, on
# cores whose chunk counts are odd (partial chunks at the ends of ranges, fewer
# chunks than threads); each restores byte-identically with as many threads.
while read -r tn bytes tranges tseed; do
    "$GEN" --out "$work/$tn.core" --size "$bytes" --ranges "$tranges" --seed "$tseed" >/dev/null
    for th in 1 2 3 5; do
        expect "threads $tn/$th: save" 0 "using $th threads? and [0-9.]+ (KiB|MiB) of buffers" \
            "$SAVE" --core "$work/$tn.core" --target "$work/$tn.$th.img" --threads "$th" --level 1 --quiet
        expect "threads $tn/$th: restore" 0 "restored image" "$RESTORE" --image "$work/$tn.$th.img" \
            --memory-file "$work/$tn.$th.mem" --threads "$th" --quiet
        expect "threads $tn/$th: memory identical" 0 "^identical" "$GEN" --compare "$work/$tn.core" \
            --memory "$work/$tn.$th.mem"
        rm -f "$work/$tn.$th.mem"
        [ "$th" = 1 ] && continue
        check "threads $tn/$th: image identical to one thread's" \
            cmp -i 4096 "$work/$tn.1.img" "$work/$tn.$th.img"
    done
    n=$(field "$work/$tn.1.img" chunks | sed 's/ .*//')
    check "threads $tn: odd chunk count ($n)" test $((n % 2)) = 1
done <<EOF
odd 9449472 3 11
few 2101248 2 12
many 38801408 5 13
EOF
# The mapped paths: --mmap maps the core, or the memory file, in windows as
# khib-save and khib-restore map /dev/mem.
expect "threads: save --mmap" 0 "saved image" "$SAVE" --core "$work/many.core" --target "$work/mmap.img" \
    --threads 3 --mmap --level 1 --quiet
check "threads: --mmap gives the same image" cmp -i 4096 "$work/many.1.img" "$work/mmap.img"
expect "threads: restore --mmap through mapped windows" 0 "restored image" "$RESTORE" --image "$work/mmap.img" \
    --memory-file "$work/mmap.mem" --mmap --threads 3 --quiet
expect "threads: restore --mmap: memory identical" 0 "^identical" "$GEN" --compare "$work/many.core" \
    --memory "$work/mmap.mem"
rm -f "$work/mmap.mem"
# Into a memory file full of other bytes: zero pages must be written too.
awk 'BEGIN { for (i = 0; i < 65536; i++) printf "\377" }' > "$work/ff"
i=0
while [ $i -lt 700 ]; do cat "$work/ff"; i=$((i + 1)); done > "$work/dirty.mem"
expect "threads: restore over old memory" 0 "restored image" "$RESTORE" --image "$work/odd.2.img" \
    --memory-file "$work/dirty.mem" --threads 2 --quiet
expect "threads: old memory overwritten, zero pages too" 0 "^identical" "$GEN" --compare "$work/odd.core" \
    --memory "$work/dirty.mem"
rm -f "$work/dirty.mem" "$work/ff"
# Damage is still found and named with threads; of two bad chunks the first is.
cp "$work/many.1.img" "$work/tbad.img"
read -r cidx coff clen cfirst clast <<EOF
$("$TOOL" stored-chunk "$work/tbad.img" 7)
EOF
"$TOOL" flip "$work/tbad.img" $((coff + clen / 2))
bad_chunk="chunk $cidx \(pfn $cfirst-$clast\): .*the image is damaged"
for th in 1 2 3; do
    expect "threads $th: bad chunk found by --verify" 2 "$bad_chunk" "$RESTORE" --image "$work/tbad.img" --verify \
        --threads "$th" --quiet
    expect "threads $th: bad chunk stops the restore" 2 "$bad_chunk.*stays COMMITTED" "$RESTORE" \
        --image "$work/tbad.img" --memory-file "$work/tbad.mem" --threads "$th" --consume --quiet
    check "threads $th: state still COMMITTED" test "$(state_of "$work/tbad.img")" = COMMITTED
done
read -r cidx coff clen cfirst clast <<EOF
$("$TOOL" stored-chunk "$work/tbad.img" 9)
EOF
"$TOOL" flip "$work/tbad.img" $((coff + clen / 2))
expect "threads: of two bad chunks the first is named" 2 "$bad_chunk" "$RESTORE" --image "$work/tbad.img" \
    --memory-file "$work/tbad.mem" --threads 3 --quiet
rm -f "$work/tbad.mem"
expect "threads: 0 refused" 1 "--threads needs a number from 1 to" "$SAVE" --core x --target y --threads 0
expect "threads: junk refused" 1 "--threads needs a number from 1 to" "$RESTORE" --image x --verify --threads 2x
# A target that may refuse O_DIRECT (tmpfs): the save falls back, the image is the same.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    shm=$(mktemp /dev/shm/khib-unit.XXXXXX)
    rm -f "$shm"
    expect "tmpfs target: saved" 0 "saved image" "$SAVE" --core "$work/odd.core" --target "$shm" --threads 2 \
        --level 1 --quiet
    check "tmpfs target: image identical" cmp -i 4096 "$work/odd.1.img" "$shm"
    rm -f "$shm"
fi
# Level store stores every chunk that has a nonzero page uncompressed; level
# auto (the default) stores a share that depends on the timing
# (khib_store_fraction, a unit test).  Their images restore as others.
"$GEN" --out "$work/auto.core" --size 192M --seed 21 --ranges 2 >/dev/null
for lv in store auto; do
    pat="zstd level $lv"
    [ "$lv" = auto ] || pat="stored in 193 chunks \(19[0-9] of them uncompressed\)"
    expect "$lv: save" 0 "$pat" "$SAVE" --core "$work/auto.core" --target "$work/$lv.img" --level "$lv"
    check "$lv: level recorded" test "$(field "$work/$lv.img" chunks | sed 's/.*zstd level //')" = "$lv"
    expect "$lv: restore" 0 "restored image" "$RESTORE" --image "$work/$lv.img" --memory-file "$work/$lv.mem" --quiet
    expect "$lv: memory identical" 0 "^identical" "$GEN" --compare "$work/auto.core" --memory "$work/$lv.mem"
    rm -f "$work/$lv.mem" "$work/$lv.img"
done
rm -f "$work/auto.core"
expect "level 0 refused" 1 "--level needs auto, store or a nonzero zstd level, not '0'" "$SAVE" \
    --core "$work/many.core" --target "$work/l0.img" --level 0

# Level, target, window, mailbox and jump-back entry from the note.
"$GEN" --out "$work/note.core" --size 48M --seed 4 --note --window 32M --mailbox --level 5 \
    --target "$work/note.img" > "$work/note.txt"
mbx=$(sed -n 's/^mailbox \(0x[0-9a-f]*\) .*/\1/p' "$work/note.txt")
expect "note: save to the note's target" 0 "zstd level 5" "$SAVE" --core "$work/note.core" \
    --jump-back-entry 0x1234567 --verify-after --quiet
expect "note: --verify-after" 0 "verified every chunk" "$SAVE" --core "$work/note.core" \
    --jump-back-entry 0x1234567 --verify-after --quiet
check "note: entry stored" test "$(field "$work/note.img" "jump-back entry")" = 0x1234567
check "note: window stored" test "$(field "$work/note.img" window)" = "[0x0, 0x2000000)"
expect "note: --info" 0 "mailbox: +$mbx \(nonce 0x" "$RESTORE" --image "$work/note.img" --info
cp "$work/note.img" "$work/nonce.img"
"$TOOL" sb-set "$work/nonce.img" mailbox_nonce 0x1
expect "note: a foreign mailbox stops the restore" 2 "belongs to another hibernation \(nonce differs\).*stays COMMITTED" \
    "$RESTORE" --image "$work/nonce.img" --memory-file "$work/nonce.mem" --consume --quiet
check "note: a foreign mailbox leaves the image COMMITTED" test "$(state_of "$work/nonce.img")" = COMMITTED
rm -f "$work/nonce.mem"
expect "note: restore and consume" 0 "marked CONSUMED" "$RESTORE" --image "$work/note.img" \
    --memory-file "$work/note.mem" --consume --quiet
uuid=$(field "$work/note.img" uuid)
expect "note: mailbox says restored" 0 "magic KHIBMBX1 .* status 3 .* msg restored from image $uuid" \
    "$TOOL" mailbox "$work/note.mem" "$mbx"
expect "note: memory identical but the mailbox" 0 "^identical" "$GEN" --compare "$work/note.core" \
    --memory "$work/note.mem" --except "$mbx"
check "note: state CONSUMED" test "$(state_of "$work/note.img")" = CONSUMED
expect "note: no second restore" 10 "was already restored on [0-9-]+ [0-9:]+ UTC; not resuming twice" \
    "$RESTORE" --image "$work/note.img" --memory-file "$work/note2.mem"
check "note: nothing written the second time" test ! -e "$work/note2.mem"
expect "note: a consumed image still verifies" 0 "is intact \(CONSUMED\)" "$RESTORE" --image "$work/note.img" --verify

# Headers only, memory read through a device-like file (offset = paddr), as from /dev/mem.
"$GEN" --out "$work/hdr" --memfile "$work/src.mem" --size 40M --seed 5 --ranges 4 >/dev/null
expect "headers only: save" 0 "saved image" "$SAVE" --elfcorehdr "$work/hdr" --mem "$work/src.mem" \
    --target "$work/hdr.img" --quiet
expect "headers only: restore" 0 "restored image" "$RESTORE" --image "$work/hdr.img" \
    --memory-file "$work/dst.mem" --quiet
check "headers only: memory identical" cmp "$work/src.mem" "$work/dst.mem"
rm -f "$work/src.mem" "$work/dst.mem"

# --- damaged images ---------------------------------------------------------------
img=$work/ranges.img
cp "$img" "$work/chunk.img"
chunk=$("$TOOL" stored-chunk "$work/chunk.img" 1)
read -r cidx coff clen cfirst clast <<EOF
$chunk
EOF
"$TOOL" flip "$work/chunk.img" $((coff + clen / 2))
want="chunk $cidx \(pfn $cfirst-$clast\): .*the image is damaged"
expect "bad chunk: verify names it" 2 "$want" "$RESTORE" --image "$work/chunk.img" --verify --quiet
expect "bad chunk: restore names it" 2 "$want.*stays COMMITTED" "$RESTORE" --image "$work/chunk.img" \
    --memory-file "$work/chunk.mem" --consume --quiet
check "bad chunk: state still COMMITTED" test "$(state_of "$work/chunk.img")" = COMMITTED

cp "$img" "$work/index.img"
ioff=$(field "$work/index.img" "image size" | sed -n 's/.*bytes at \([0-9]*\)).*/\1/p')
"$TOOL" flip "$work/index.img" $((ioff + 100))
expect "bad index: refused" 2 "index checksum mismatch" "$RESTORE" --image "$work/index.img" \
    --memory-file "$work/index.mem"
check "bad index: nothing written" test ! -e "$work/index.mem"
check "bad index: state still COMMITTED" test "$(state_of "$work/index.img")" = COMMITTED

cp "$img" "$work/sb.img"
"$TOOL" flip "$work/sb.img" 200
expect "bad superblock: refused" 2 "superblock checksum mismatch" "$RESTORE" --image "$work/sb.img" \
    --memory-file "$work/sb.mem"
expect "bad superblock: --info too" 2 "superblock checksum mismatch" "$RESTORE" --image "$work/sb.img" --info

cp "$img" "$work/short.img"
truncate -s $((ioff + 10)) "$work/short.img"
expect "truncated image: refused" 2 "only $((ioff + 10)) bytes are there \(truncated" \
    "$RESTORE" --image "$work/short.img" --verify

cp "$img" "$work/v2.img"
"$TOOL" sb-set "$work/v2.img" version 1
expect "version 1: refused" 2 "image format version 1 is not supported .*written by an older khib" "$RESTORE" --image "$work/v2.img" --verify

# A damaged superblock says "damaged" (exit 2), never "never written" (exit 10).
for pos in 0 1 2 3 4 5 6 7; do
    cp "$img" "$work/magic.img"
    printf '\067' | dd of="$work/magic.img" bs=1 seek="$pos" conv=notrunc status=none
    expect "magic byte $pos = 0x37: damaged" 2 "the superblock is damaged: its magic has byte $pos = 0x37.*rest of it verifies" \
        "$RESTORE" --image "$work/magic.img" --memory-file "$work/magic.mem"
done
check "magic damaged: nothing written" test ! -e "$work/magic.mem"
expect "magic damaged: --info says so" 2 "the superblock is damaged" "$RESTORE" --image "$work/magic.img" --info
cp "$img" "$work/magic2.img"
printf 'XY' | dd of="$work/magic2.img" bs=1 seek=2 conv=notrunc status=none
"$TOOL" flip "$work/magic2.img" 300
expect "two magic bytes and the checksum damaged: still damaged" 2 "the superblock is damaged: its magic has byte 2" \
    "$RESTORE" --image "$work/magic2.img" --verify
cp "$img" "$work/block0.img"
dd if=/dev/zero of="$work/block0.img" bs=4096 count=1 conv=notrunc status=none
expect "block 0 zeroed: damaged" 2 "the superblock is damaged: no KHIBIMG1 magic at byte 0, but a zstd frame at byte 4096" \
    "$RESTORE" --image "$work/block0.img" --memory-file "$work/block0.mem"
expect "block 0 zeroed: --info says so" 2 "the superblock is damaged" "$RESTORE" --image "$work/block0.img" --info
truncate -s 8M "$work/blank.img"
expect "a blank target: no image" 10 "no committed image .*never written" "$RESTORE" --image "$work/blank.img" --info
truncate -s 8M "$work/ext4.img"
mkfs.ext4 -q -F "$work/ext4.img"
expect "an ext4 target: no image" 10 "no committed image .*never written" "$RESTORE" --image "$work/ext4.img" --verify
for seed in 1 2 3 4 5 6 7 8; do
    head -c 1048576 /dev/urandom > "$work/random.img"
    expect "a random target ($seed): no image" 10 "no committed image .*never written" \
        "$RESTORE" --image "$work/random.img" --verify
done

# --- state handling ----------------------------------------------------------------
truncate -s 1M "$work/zero.img"
expect "no image: exit 10" 10 "no committed image on .*zero.img" "$RESTORE" --image "$work/zero.img" \
    --memory-file "$work/zero.mem"
head -c 65536 /dev/urandom > "$work/garbage.img"
expect "garbage: exit 10" 10 "no committed image" "$RESTORE" --image "$work/garbage.img" --verify
cp "$img" "$work/writing.img"
"$TOOL" sb-set "$work/writing.img" state 1
expect "WRITING: refused" 10 "no committed image on .* \(state WRITING: a save did not finish" \
    "$RESTORE" --image "$work/writing.img" --memory-file "$work/writing.mem"
check "WRITING: nothing written" test ! -e "$work/writing.mem"
expect "WRITING: --info still shows it" 0 "^state: +WRITING" "$RESTORE" --image "$work/writing.img" --info
"$TOOL" sb-set "$work/writing.img" state 0
expect "EMPTY: refused" 10 "state EMPTY" "$RESTORE" --image "$work/writing.img" --verify

# --- refusals for this machine -------------------------------------------------------
cp "$img" "$work/window.img"
"$TOOL" sb-set "$work/window.img" window_size 0x40000000
expect "window: refused" 3 "range 0 .* lies inside the window \[0x0, 0x40000000\)" \
    "$RESTORE" --image "$work/window.img" --memory-file "$work/window.mem"
check "window: nothing written" test ! -e "$work/window.mem"

mm=$work/memmap
for e in 0:0x0:0x9fbff:System\ RAM 1:0x100000:0x7fffffff:System\ RAM 2:0xfffc0000:0xffffffff:Reserved; do
    n=${e%%:*} rest=${e#*:}
    mkdir -p "$mm/$n"
    echo "${rest%%:*}" > "$mm/$n/start"
    rest=${rest#*:}
    echo "${rest%%:*}" > "$mm/$n/end"
    echo "${rest#*:}" > "$mm/$n/type"
done
cp "$img" "$work/memmap.img"
expect "memory map: mismatch refused" 3 "firmware memory map .* differs from the hibernated system's" \
    "$RESTORE" --image "$work/memmap.img" --memory-file "$work/memmap.mem" --memmap-dir "$mm"
check "memory map: nothing written" test ! -e "$work/memmap.mem"
"$TOOL" sb-set "$work/memmap.img" memmap_digest "$("$TOOL" memmap-digest "$mm")"
expect "memory map: match accepted" 0 "restored image" "$RESTORE" --image "$work/memmap.img" \
    --memory-file "$work/memmap.mem" --memmap-dir "$mm" --quiet
rm -f "$work/memmap.mem"

if command -v mkfs.ext4 >/dev/null && command -v tune2fs >/dev/null; then
    truncate -s 4M "$fsdir/fs"
    mkfs.ext4 -q -F "$fsdir/fs"
    head -c 8192 /dev/zero > "$fsdir/raw"
    "$GEN" --out "$work/fs-raw.core" --size 8M --seed 6 --note --fs "ext4:$fsdir/fs" --fs "ext4:$fsdir/raw" >/dev/null
    expect "fs: a file system that cannot be recorded fails the save" 4 \
        "cannot record the state of the file system at /mnt/test1 \(ext2/3/4 on $fsdir/raw\): .*; not saving" \
        "$SAVE" --core "$work/fs-raw.core" --target "$work/fs-raw.img" --quiet
    check "fs: nothing written" test ! -s "$work/fs-raw.img"
    "$GEN" --out "$work/fs.core" --size 8M --seed 6 --note --fs "ext4:$fsdir/fs" >/dev/null
    expect "fs: recorded" 0 "recorded the file system at /mnt/test0 \(ext2/3/4 on $fsdir/fs\)" \
        "$SAVE" --core "$work/fs.core" --target "$work/fs.img" --quiet
    expect "fs: shown" 0 "^file system: +/mnt/test0 \(ext2/3/4 on $fsdir/fs\), UUID" \
        "$RESTORE" --image "$work/fs.img" --info
    expect "fs: unchanged, restored" 0 "restored image" "$RESTORE" --image "$work/fs.img" \
        --memory-file "$work/fs.mem" --quiet
    tune2fs -C 9 "$fsdir/fs" >/dev/null
    expect "fs: mounted since, refused" 3 \
        "the file system at /mnt/test0 \(ext2/3/4 on $fsdir/fs\) was mounted since the hibernation \(mount count 0 → 9\); resuming would corrupt it" \
        "$RESTORE" --image "$work/fs.img" --memory-file "$work/fs.mem" --quiet
    check "fs: state still COMMITTED" test "$(state_of "$work/fs.img")" = COMMITTED
    cp "$work/fs.img" "$work/fs-abandon.img"
    rm -f "$fsdir/fs"
    expect "fs: device gone, refused" 3 "cannot check the file system at /mnt/test0 \(ext2/3/4 on $fsdir/fs\)" \
        "$RESTORE" --image "$work/fs.img" --memory-file "$work/fs.mem" --quiet
    expect "abandon: a committed image" 0 "image .* on $work/fs-abandon.img abandoned: a normal boot; it will never be restored" \
        "$RESTORE" --image "$work/fs-abandon.img" --abandon "a normal boot"
    check "abandon: state ABANDONED" test "$(state_of "$work/fs-abandon.img")" = ABANDONED
    expect "abandon: --info shows when and why" 0 "^abandoned: +[0-9-]+ [0-9:]+.* \(a normal boot\)" \
        "$RESTORE" --image "$work/fs-abandon.img" --info
    expect "abandon: not restored" 10 "was abandoned on .* \(a normal boot\); not restoring it" \
        "$RESTORE" --image "$work/fs-abandon.img" --memory-file "$work/fs.mem" --quiet
    expect "abandon: nothing to abandon twice, silently" 10 "^$" \
        "$RESTORE" --image "$work/fs-abandon.img" --abandon "again"
else
    fail "fs: mkfs.ext4 and tune2fs (e2fsprogs) are needed"
fi

# --- the saver's failures ---------------------------------------------------------------
core=$work/ranges.core
truncate -s 1M "$work/small.img"
expect "too small: both sizes" 3 \
    "target .*small.img is too small: the image needs [0-9.]+ MiB, the target holds 1.0 MiB" \
    "$SAVE" --core "$core" --target "$work/small.img" --quiet
check "too small: left WRITING" test "$(state_of "$work/small.img")" = WRITING
truncate -s 100 "$work/tiny.img"
expect "smaller than a superblock" 3 "is too small: the image needs at least" \
    "$SAVE" --core "$core" --target "$work/tiny.img" --quiet
# A committed image is invalidated by a later save that fails.
truncate -s 2M "$work/reuse.img"
expect "reuse: a small image fits, all compressed" 0 "memory takes 4.0 MiB uncompressed; every chunk is compressed at level 1" \
    "$SAVE" --core "$work/small.core" --target "$work/reuse.img" --quiet
check "reuse: COMMITTED" test "$(state_of "$work/reuse.img")" = COMMITTED
expect "reuse: a big one does not" 3 "the target holds 2.0 MiB" "$SAVE" --core "$core" \
    --target "$work/reuse.img" --quiet
check "reuse: the old image is no longer COMMITTED" test "$(state_of "$work/reuse.img")" = WRITING
expect "reuse: the restorer finds no image" 10 "state WRITING" "$RESTORE" --image "$work/reuse.img" --verify
expect "target is a directory" 3 "neither a block device nor a regular file" "$SAVE" --core "$core" \
    --target "$work" --quiet
expect "bad level" 1 "zstd level 100 is out of range" "$SAVE" --core "$core" --target "$work/l.img" --level 100
expect "no target anywhere" 1 "no target" "$SAVE" --core "$core"
# The front end's settings are checked before it touches the system.
printf 'target=/dev/null\ntrim=maybe\n' > "$work/trim.conf"
expect "khib: bad trim setting" 1 "trim: 'maybe' is not yes or no" "$root/build/khib" hibernate \
    --config "$work/trim.conf"
cp "$core" "$work/cut.core"
truncate -s 5000000 "$work/cut.core"
expect "truncated core" 2 "truncated core: PT_LOAD at paddr" "$SAVE" --core "$work/cut.core" \
    --target "$work/cut.img"
check "truncated core: target untouched" test ! -e "$work/cut.img"
head -c 4096 /dev/urandom > "$work/garbage.core"
expect "garbage core" 2 "not an ELF file" "$SAVE" --core "$work/garbage.core" --target "$work/g.img"
expect "missing core" 2 "cannot open" "$SAVE" --core "$work/none.core" --target "$work/g.img"
expect "restore: memory file in a missing directory" 4 "cannot open .* for writing" \
    "$RESTORE" --image "$img" --memory-file "$work/no/such/dir/mem"

# --- the image size limit (--image-size) --------------------------------------------------
# 8 MiB of memory, none left out as free (a generated core has no VMCOREINFO):
# the bound is 8 MiB + 8 MiB / 256 + 1 MiB, compressed or not.
"$GEN" --out "$work/lim.core" --size 8M --seed 7 --note > /dev/null
awk 'BEGIN { for (i = 0; i < 65536; i++) printf "\253" }' > "$work/lim.ab"
i=0
while [ $i -lt 256 ]; do cat "$work/lim.ab"; i=$((i + 1)); done > "$work/lim.img"
cp "$work/lim.img" "$work/lim.orig"
expect "image-size 9M: refused (exit 7)" 7 "could take 9 MiB .*above image-size=9 MiB; nothing written" \
    "$SAVE" --core "$work/lim.core" --target "$work/lim.img" --image-size 9437184 --quiet
check "image-size 9M: the target untouched" cmp -s "$work/lim.img" "$work/lim.orig"
expect "image-size 1M: refused, says the free pages were not left out" 7 "the free pages could not be left out" \
    "$SAVE" --core "$work/lim.core" --target "$work/lim.img" --image-size 1048576 --quiet
expect "image-size 10M: saved" 0 "saved image" \
    "$SAVE" --core "$work/lim.core" --target "$work/lim.img" --image-size 10485760 --level 1
end=$("$RESTORE" --image "$work/lim.img" --info | sed -n 's/^image size: .*index \([0-9]*\) bytes at \([0-9]*\)).*/\1 \2/p' |
    { read -r n at && echo $((n + at)); })
within() { [ "${end:-0}" -gt 0 ] && [ "${end:-0}" -le "$1" ]; }
check "image-size 10M: the image ($end bytes) within it" within 10485760
expect "image-size: not a number" 1 "needs a number of bytes" "$SAVE" --core x --target y --image-size 2G
rm -f "$work"/lim.*

# --- a big round trip, with throughput -----------------------------------------------------
"$GEN" --out "$work/big.core" --size "$BIG" --seed 42 --ranges 4 >/dev/null
t0=$(date +%s.%N)
expect "big: save" 0 "saved image" "$SAVE" --core "$work/big.core" --target "$work/big.img"
# shellcheck disable=SC2154 # out: the last output of expect (tests/lib/check.sh)
save_out=$out
t1=$(date +%s.%N)
# shellcheck disable=SC2016 # $1 is for the inner shell
expect "big: progress lines well-formed" 1 "" \
    sh -c 'printf "%s\n" "$1" | grep "^khib-save: [0-9]" | grep -Ev "^khib-save: [0-9]+/[0-9]+ MiB \([0-9]+%\), [0-9]+ MiB/s$"' \
    sh "$save_out"
expect "big: restore" 0 "restored image" "$RESTORE" --image "$work/big.img" --memory-file "$work/big.mem" --quiet
restore_out=$out
t2=$(date +%s.%N)
expect "big: memory identical" 0 "^identical: [0-9]+ bytes in 4 ranges" "$GEN" --compare "$work/big.core" \
    --memory "$work/big.mem"
printf '%s\n' "$save_out" | grep -E '^khib-save: (using|saved|pages|time)' >&2 || true
printf '%s\n' "$restore_out" >&2
echo "big round trip ($BIG): save $(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}') s," \
    "restore $(echo "$t1 $t2" | awk '{printf "%.1f", $2 - $1}') s (wall time)" >&2

counts
