#!/bin/sh
# Encrypted images end to end on files (docs/encryption.md): khib
# setup-encryption, khib-save --public-key, khib-restore with the passphrase
# from a descriptor; round trips with both ciphers byte-identical, the key
# file, wrong passphrases and the timeout (image kept, no memory written), a
# plain image beside the key header, the refusals of the saver, the raw
# target searched for the core's pages, random bit flips (plain and with the
# checksums forged) each refused before any memory is written, and khib
# check's line.  Ends with "N passed, N failed".
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
SAVE="$root/build/khib-save"
RESTORE="$root/build/khib-restore"
GEN="$root/build/khib-gencore"
KHIB="$root/build/khib"
SEAL="$root/build/tests/sealtool"
FLIPS=${KHIB_FLIPS:-40}   # per region (superblock, key header, data, index), plain and forged

work=$(mktemp -d "${TMPDIR:-/tmp}/khib-enc.XXXXXX")
trap 'rm -rf "$work"' EXIT
# shellcheck source=tests/lib/check.sh
# shellcheck disable=SC1091 # followed by shellcheck -x
. "$root/tests/lib/check.sh"

field() { "$RESTORE" --image "$1" --info 2>/dev/null | sed -n "s/^$2: *//p"; }

echo 'correct horse battery' > "$work/pass"
printf 'wrong one\nwrong two\nwrong three\n' > "$work/wrong"
conf="$work/khib.conf"
printf 'public-key=%s\n' "$work/khib.pub" > "$conf"
T="$work/target.img"
truncate -s 256M "$T"
setup() {   # setup [OPTIONS...]: khib setup-encryption on $T, Argon2id made cheap
    "$KHIB" setup-encryption --config "$conf" --target "$T" --argon2-ops 1 --argon2-mem 8M --passphrase-fd 3 \
        "$@" 3<"$work/pass"
}
restore() {   # restore PASSFILE IMAGE [OPTIONS...]: into $work/mem
    pf=$1 img=$2
    shift 2
    rm -f "$work/mem"
    "$RESTORE" --image "$img" --memory-file "$work/mem" --passphrase-fd 3 --quiet "$@" 3<"$pf"
}

# --- setup-encryption ----------------------------------------------------------
expect "setup-encryption --help" 0 "^Usage: khib setup-encryption" "$KHIB" setup-encryption --help
expect "setup-encryption" 0 "key header written to .* and to" setup --key-file "$work/keyfile"
check "the public key is 64 hex digits" grep -Eqx '[0-9a-f]{64}' "$work/khib.pub"
PK=$(cat "$work/khib.pub")
expect "setup-encryption again refuses" 3 "already holds a key header" setup
expect "khib check reports it" 3 "PASS  encryption is set up: images are sealed to the public key in" \
    "$KHIB" check --config "$conf" --target "$T"
printf 'public-key=%s\nencrypt=yes\n' "$work/none.pub" > "$work/yes.conf"
expect "khib check with encrypt=yes and no key" 3 "FAIL  encryption: encrypt=yes, but there is no public key" \
    "$KHIB" check --config "$work/yes.conf" --target "$T"
expect "khib hibernate with encrypt=yes and no key refuses" 3 "FAIL  encryption: encrypt=yes, but there is no" \
    "$KHIB" hibernate --config "$work/yes.conf" --target "$T"
printf 'public-key=%s\n' "$work/khib.pub" >> "$work/yes.conf"
expect "restore entry asks for encryption" 0 "khib.encrypted=1" "$KHIB" boot-args --config "$conf" --target "$T"

# --- round trips ----------------------------------------------------------------
"$GEN" --out "$work/c.core" --size 24M --ranges 3 --seed 11 >/dev/null
for cipher in xchacha20poly1305 aes256gcm; do
    if [ "$cipher" = aes256gcm ] && ! grep -qw aes /proc/cpuinfo; then
        echo "note: no AES-NI: the AES-256-GCM round trip was skipped"
        continue
    fi
    expect "$cipher: save" 0 "encrypted with $cipher" "$SAVE" --core "$work/c.core" --target "$T" \
        --public-key "$PK" --cipher "$cipher" --quiet --verify-after
    check "$cipher: data after the key header" [ "$(field "$T" 'data offset')" = 8192 ]
    expect "$cipher: verify" 0 "is intact" "$RESTORE" --image "$T" --verify --passphrase-fd 3 3<"$work/pass"
    expect "$cipher: restore" 0 "authenticated .* before any memory is written" restore "$work/pass" "$T"
    expect "$cipher: memory identical" 0 "^identical" "$GEN" --compare "$work/c.core" --memory "$work/mem"
done

# --- the key file ------------------------------------------------------------
cp "$T" "$work/nohdr.img"
dd if=/dev/zero of="$work/nohdr.img" bs=4096 seek=1 count=1 conv=notrunc 2>/dev/null
expect "no key header on the target: refused" 2 "key header cannot be used" restore "$work/pass" "$work/nohdr.img"
expect "the key file opens it" 0 "restored image" restore "$work/pass" "$work/nohdr.img" --key-file "$work/keyfile"
expect "key file: memory identical" 0 "^identical" "$GEN" --compare "$work/c.core" --memory "$work/mem"
rm -f "$work/nohdr.img"

# --- wrong passphrases, the timeout: locked, the image kept -----------------------
expect "three wrong passphrases" 11 "stays locked: 3 wrong passphrases; .* kept" restore "$work/wrong" "$T"
check "no memory written" [ ! -e "$work/mem" ]
check "the image is still COMMITTED" [ "$(field "$T" state)" = COMMITTED ]
printf 'wrong\n' > "$work/one-wrong"
cat "$work/pass" >> "$work/one-wrong"
expect "a wrong one, then the right one" 0 "restored image" restore "$work/one-wrong" "$T"
t0=$(date +%s)
rc=0
sleep 4 | "$RESTORE" --image "$T" --memory-file "$work/mem2" --passphrase-fd 0 --passphrase-timeout 1 \
    --quiet >/dev/null 2>&1 || rc=$?
check "no passphrase in time: locked (exit $rc)" [ "$rc" = 11 ]
check "the timeout ended it before the input did" [ $(($(date +%s) - t0)) -le 5 ]
check "timeout: no memory written" [ ! -e "$work/mem2" ]

# --- the saver's refusals; a plain image beside the key header ----------------
other=$(printf '%064d' 7)
expect "another public key: refused" 6 "holds another public key" "$SAVE" --core "$work/c.core" --target "$T" \
    --public-key "$other" --quiet
check "refused before writing: still COMMITTED" [ "$(field "$T" state)" = COMMITTED ]
truncate -s 64M "$work/plain.img"
expect "no key header: refused" 6 "has no key header" "$SAVE" --core "$work/c.core" --target "$work/plain.img" \
    --public-key "$PK" --quiet
expect "a plain image on the keyed target" 0 "saved image" "$SAVE" --core "$work/c.core" --target "$T" --quiet
check "plain: data after the key header" [ "$(field "$T" 'data offset')" = 8192 ]
expect "plain: restored" 0 "restored image" restore /dev/null "$T"
expect "plain: memory identical" 0 "^identical" "$GEN" --compare "$work/c.core" --memory "$work/mem"
expect "plain: refused where encryption is required" 3 "not encrypted" restore /dev/null "$T" --require-encryption
check "the key header survived: verify" "$RESTORE" --image "$T" --verify --quiet
expect "encrypted again after the plain one" 0 "encrypted" "$SAVE" --core "$work/c.core" --target "$T" \
    --public-key "$PK" --quiet
expect "and restored" 0 "restored image" restore "$work/pass" "$T"

# --- the raw target holds none of the core's pages ----------------------------
"$GEN" --extract "$work/c.core" --raw "$work/c.raw" >/dev/null
truncate -s 64M "$work/clear.img"
"$SAVE" --core "$work/c.core" --target "$work/clear.img" --level store --quiet >/dev/null
found=$("$SEAL" find-pages "$work/c.raw" "$work/clear.img")
echo "in clear (--level store): $found"
total=$(echo "$found" | sed -n 's/^found [0-9]* of \([0-9]*\) pages$/\1/p')
check "the search finds the pages of an image in clear ($found)" [ "$found" = "found $total of $total pages" ]
check "the core has distinctive pages to look for ($total)" [ "${total:-0}" -gt 1000 ]
"$SAVE" --core "$work/c.core" --target "$T" --public-key "$PK" --level store --quiet >/dev/null
found=$("$SEAL" find-pages "$work/c.raw" "$T")
echo "encrypted (--level store): $found"
check "none of them in the encrypted target ($found)" [ "$found" = "found 0 of $total pages" ]
rm -f "$work/clear.img" "$work/c.raw"

# --- random bit flips: each refused before any memory is written ---------------
# A small image, so that each try is quick; every try with the checksums as
# they fall (damage) and with them forged (an attacker who knows the format);
# forged flips leave out the fields the MAC leaves out (docs/encryption.md).
"$GEN" --out "$work/f.core" --size 2M --ranges 2 --seed 5 >/dev/null
"$SAVE" --core "$work/f.core" --target "$T" --public-key "$PK" --quiet >/dev/null
cp "$T" "$work/orig.img"
expect "the unflipped image restores" 0 "restored image" restore "$work/pass" "$T" --require-encryption
# shellcheck disable=SC2046 # four numbers
set -- $("$SEAL" layout "$T")
data_off=$1 data_len=$2 index_off=$3 index_len=$4
seed=${KHIB_FLIP_SEED:-$(date +%s)}
echo "bit flips: seed $seed (KHIB_FLIP_SEED), $FLIPS per region and kind"
# One line per try: region, kind, bit.
awk -v seed="$seed" -v n="$FLIPS" -v d0="$data_off" -v dl="$data_len" -v io="$index_off" -v il="$index_len" 'BEGIN {
    srand(seed)
    for (k = 0; k < 2; k++) {
        kind = k ? "forge" : "plain"
        for (i = 0; i < n; i++) {
            # superblock, leaving out (when forged) state, the times, the reason, MAC, locked_ns, checksum
            do { b = int(rand() * 4096) } while (k && (b >= 16 && b < 20 || b >= 3608 && b < 3752 || b >= 3928 && b < 3960 || b >= 4024 && b < 4032 || b >= 4088))
            print "superblock", kind, b * 8 + int(rand() * 8)
            print "keyheader", kind, (4096 + int(rand() * 160)) * 8 + int(rand() * 8)
            print "data", kind, (d0 + int(rand() * dl)) * 8 + int(rand() * 8)
            print "index", kind, (io + int(rand() * il)) * 8 + int(rand() * 8)
        }
    }
}' > "$work/flips"
tries=0 refused=0 accepted=0 wrote=0 kept=0
flip() {   # flip KIND BIT: the same call flips it back (and forges the checksums back)
    if [ "$1" = forge ]; then "$SEAL" flipbit "$T" "$2" forge; else "$SEAL" flipbit "$T" "$2"; fi
}
while read -r region kind bit; do
    flip "$kind" "$bit"
    rc=0
    restore "$work/pass" "$T" --require-encryption >"$work/out" 2>&1 || rc=$?
    tries=$((tries + 1))
    if [ "$rc" = 0 ]; then
        accepted=$((accepted + 1))
        echo "ACCEPTED: $region $kind bit $bit" >&2
    else
        refused=$((refused + 1))
    fi
    if [ -e "$work/mem" ]; then
        wrote=$((wrote + 1))
        echo "WROTE MEMORY: $region $kind bit $bit (exit $rc): $(tail -1 "$work/out")" >&2
    fi
    flip "$kind" "$bit"
    # Kept locked (11: e.g. forged Argon2id parameters beyond R's bounds):
    # khib-restore marked it (locked_ns); forget that for the comparison.
    if [ "$rc" = 11 ]; then
        kept=$((kept + 1))
        "$RESTORE" --image "$T" --clear-locked || echo "CLEAR-LOCKED FAILED: $region $kind bit $bit" >&2
    fi
done < "$work/flips"
echo "bit flips: $tries tries, $refused refused ($kept of them kept locked, exit 11), $accepted accepted, $wrote wrote memory"
check "at least 300 bit flips tried ($tries)" [ "$tries" -ge 300 ]
check "every flip refused ($refused of $tries)" [ "$refused" = "$tries" ] && [ "$accepted" = 0 ]
check "no refused flip wrote memory ($wrote)" [ "$wrote" = 0 ]
check "flipped back: the same bytes" cmp -s "$work/orig.img" "$T"
expect "the image restores again" 0 "restored image" restore "$work/pass" "$T"

counts
