#!/bin/sh
# An image in a file end to end on the host (docs/file-target.md), without a
# mount: an ext4 made with mkfs.ext4 holds a file in three extents (written
# with debugfs around two deleted files); khib-save writes the image through
# the "device" into those extents only, as the transient kernel does, with
# the map from the note (khib-gencore --file-map); khib-restore finds it by
# device and offset, restores it byte-identical, and the file system's
# state is unchanged (B's writes do not look like a mount), e2fsck clean,
# the file reading the image through the file system; the refusals: no
# offset, a wrong offset, a map that does not match the note, a device that
# is not the recorded file system's, a mount count changed since.
# Ends with "N passed, N failed".
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
SAVE="$root/build/khib-save"
RESTORE="$root/build/khib-restore"
GEN="$root/build/khib-gencore"
work=$(mktemp -d "${TMPDIR:-/tmp}/khib-file.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/lib/check.sh
# shellcheck disable=SC1091 # followed by shellcheck -x
. "$root/tests/lib/check.sh"

if ! command -v debugfs > /dev/null || ! command -v mkfs.ext4 > /dev/null; then
    fail "e2fsprogs (mkfs.ext4, debugfs, e2fsck) are needed"
    counts
    exit 1
fi
dev=$work/disk
truncate -s 64M "$dev"
mkfs.ext4 -q -F -b 4096 "$dev"
head -c 1M /dev/urandom > "$work/m1"
head -c 16M /dev/zero | tr '\0' 'z' > "$work/z16"
for f in a b c d e; do debugfs -w -R "write $work/m1 $f" "$dev" > /dev/null 2>&1; done
debugfs -w -R "rm b" "$dev" > /dev/null 2>&1
debugfs -w -R "rm d" "$dev" > /dev/null 2>&1
debugfs -w -R "write $work/z16 image" "$dev" > /dev/null 2>&1
# "0/ 0   1/  3     0 -   255  2321 -  2576    256": logical, physical, length in blocks.
debugfs -R "ex image" "$dev" 2>/dev/null |
    sed -nE 's|^ *[0-9]+/ *[0-9]+ +[0-9]+/ *[0-9]+ +([0-9]+) - +[0-9]+ +([0-9]+) - +[0-9]+ +([0-9]+).*|\1 \2 \3|p' |
    awk '{ print $1 * 4096, $2 * 4096, $3 * 4096 }' > "$work/map.txt"
n=$(wc -l < "$work/map.txt")
check "the file has several extents ($n)" test "$n" -ge 2
base=$(head -n 1 "$work/map.txt" | cut -d' ' -f2)
e2fsck -fn "$dev" > /dev/null 2>&1 || fail "the ext4 is clean before the save"

"$GEN" --out "$work/file.core" --size 8M --seed 11 --note --target "$dev" --fs "ext4:$dev" \
    --file-map "$work/map.txt:$work/extents" > /dev/null
expect "save into the file's extents" 0 "saved image .* on $dev" \
    "$SAVE" --core "$work/file.core" --extents "$work/extents" --quiet
expect "info by device and offset" 0 "image file: +first block at device byte $base, $n extents" \
    "$RESTORE" --image "$dev" --offset "$base" --info
expect "restore by device and offset: the file system unchanged" 0 "restored image" \
    "$RESTORE" --image "$dev" --offset "$base" --memory-file "$work/file.mem" --quiet
expect "the memory is byte-identical" 0 "" "$GEN" --compare "$work/file.core" --memory "$work/file.mem"
fsck_quiet() { e2fsck -fn "$1" > /dev/null 2>&1; }
check "e2fsck -fn is clean after the raw writes" fsck_quiet "$dev"
debugfs -R "cat image" "$dev" 2>/dev/null | head -c 8 > "$work/head"
check "the file reads the image through the file system" test "$(cat "$work/head")" = KHIBIMG1
# Nothing outside the file changed: the other files are as written.
debugfs -R "cat a" "$dev" 2>/dev/null > "$work/a.back"
check "a neighbouring file is unchanged" cmp -s "$work/m1" "$work/a.back"
debugfs -R "dump image $work/copy" "$dev" 2>/dev/null
expect "the file's bytes opened without an offset: refused, naming the offset" 2 \
    "lives in a file whose first block is at byte $base" "$RESTORE" --image "$work/copy" --info
expect "the device without an offset: no image at its start" 10 "no KHIBIMG1 magic at byte 0" \
    "$RESTORE" --image "$dev" --info
expect "another offset: no image there" 10 "no KHIBIMG1 magic at byte $((base + 4096))" \
    "$RESTORE" --image "$dev" --offset "$((base + 4096))" --memory-file "$work/x.mem" --quiet
expect "an offset that is no page" 1 "a nonzero multiple of 4096" \
    "$RESTORE" --image "$dev" --offset 1000 --info

# The map handed over must be the note's.
cp "$work/extents" "$work/extents.bad"
printf '\001' | dd of="$work/extents.bad" bs=1 seek=40 conv=notrunc 2> /dev/null
expect "a map that does not match the note: nothing saved" 2 "does not match the note's checksum" \
    "$SAVE" --core "$work/file.core" --extents "$work/extents.bad" --quiet
"$GEN" --out "$work/other.core" --size 8M --seed 11 --note --target "$work/other" --fs "ext4:$dev" \
    --file-map "$work/map.txt:$work/extents" > /dev/null
truncate -s 64M "$work/other"
expect "a device that is not the recorded file system's: nothing written" 3 \
    "is not the device of a file system the saved system had mounted" \
    "$SAVE" --core "$work/other.core" --extents "$work/extents" --quiet
check "the other device was not written" cmp -s "$work/other" /dev/zero -n 67108864

# A mount since the save is refused at the offset, too.
tune2fs -C 7 "$dev" > /dev/null
expect "mounted since: refused" 3 "was mounted since the hibernation \(mount count 0 → 7\)" \
    "$RESTORE" --image "$dev" --offset "$base" --memory-file "$work/file2.mem" --quiet
counts
