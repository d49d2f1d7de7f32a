#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# An encrypted hibernation cycle (docs/encryption.md): the guest holds a
# random marker of the host's in memory, takes a test snapshot in clear on
# a second disk (where the host finds the marker: the control), sets
# encryption up and hibernates with encrypt=yes; the host finds the marker
# nowhere on the raw target; the restore kernel asks the passphrase on its serial console,
# where the host types three wrong ones: it boots normally and the image
# stays COMMITTED; on the next boot the host types the right one and the
# system resumes.  Three boots.  R marks the locked image (locked_ns, checked
# from the host: --resumable exits 11 on it), and the restore entry still
# tries a marked image.
set -eu
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

kernel=$(test_kernel "$KHIB_KERNEL")
initrd=$(guest_initrd "$kernel")
work=$(mktemp -d)
feeder=
trap '[ -z "$feeder" ] || kill "$feeder" 2>/dev/null; rm -rf "$work"' EXIT
# The same two disks at every boot (restore_boot too): the resumed system had both.
truncate -s 1G "$work/target.img" "$work/clear.img"
set -- -drive "file=$work/target.img,if=virtio,format=raw" -drive "file=$work/clear.img,if=virtio,format=raw"
secret=khib-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

# type_on LOG LINE...: type LINE i on the console once the log holds the
# i-th question (the restorer's "asking for its passphrase" line, then each
# "wrong passphrase").
type_on() {
    tlog=$1
    shift
    n=0
    for line in "$@"; do
        n=$((n + 1))
        waited=0
        while [ "$(grep -c -E 'asking for its passphrase|khib: wrong passphrase' "$tlog" 2>/dev/null)" -lt "$n" ]; do
            sleep 1
            waited=$((waited + 1))
            [ "$waited" -lt "$QEMU_TIMEOUT" ] || return 0
        done
        sleep 2
        printf '%s\n' "$line" >&7
    done
}

# restore_boot LOG SCENARIO LINE...: a restore boot with both disks, LINEs
# typed on its console.
restore_boot() {
    rlog=$1 rscen=$2
    shift 2
    rm -f "$work/console"
    mkfifo "$work/console"
    exec 7<>"$work/console"
    : > "$rlog"
    type_on "$rlog" "$@" &
    feeder=$!
    GUEST_STDIN=$work/console run_guest "$rlog" "$kernel" "$initrd" "$R_APPEND khibtest.scenario=$rscen" \
        -drive "file=$work/target.img,if=virtio,format=raw" -drive "file=$work/clear.img,if=virtio,format=raw" ||
        true
    kill "$feeder" 2>/dev/null || true
    wait "$feeder" 2>/dev/null || true
    feeder=
    exec 7>&-
}

log "booting the guest; it sets encryption up and hibernates"
run_guest "$work/boot.log" "$kernel" "$initrd" "khibtest.scenario=encrypt khibtest.secret=$secret" "$@" || true
collect "$work/boot.log"
expect "$work/boot.log" "image saved: powering off" "the transient kernel saved and powered off"
expect "$work/boot.log" "khib.pubkey=" "the transient kernel was given the public key"
[ "$FAILED" = 0 ] || show_log "$work/boot.log"
info=$("$KHIB_TOP/build/khib-restore" --image "$work/target.img" --info 2>&1 || true)
if printf '%s\n' "$info" | grep -q '^encryption: *xchacha20poly1305'; then
    pass "the image is encrypted (xchacha20poly1305)"
else
    fail "the image is not encrypted: $(printf '%s\n' "$info" | grep -E '^(state|encryption)')"
fi
if grep -q -a -F "$secret" "$work/clear.img"; then
    pass "control: the marker is on the disk of the test snapshot in clear"
else
    fail "control: the marker is not on the disk of the test snapshot in clear: the search below proves nothing"
fi
if grep -q -a -F "$secret" "$work/target.img"; then
    fail "the marker from the guest's memory is on the raw target"
else
    pass "the marker from the guest's memory is nowhere on the raw target"
fi

log "restore boot 1: three wrong passphrases"
restore_boot "$work/locked.log" locked "wrong one" "wrong two" "wrong three"
collect "$work/locked.log"
expect "$work/locked.log" "stays locked: 3 wrong passphrases" "restorer: three wrong passphrases, the image stays locked"
expect "$work/locked.log" "booting normally, the image is kept" "restore kernel boots normally"
state=$("$KHIB_TOP/build/khib-restore" --image "$work/target.img" --info 2>/dev/null | sed -n 's/^state: *//p')
if [ "$state" = COMMITTED ]; then pass "host: the image is still COMMITTED"; else fail "host: image state $state"; fi
# R marked it: an ordinary boot's hook would not start R again for it.
if "$KHIB_TOP/build/khib-restore" --image "$work/target.img" --info 2>/dev/null | grep -q '^stayed locked: '; then
    pass "host: R marked the image as stayed locked"
else
    fail "host: R did not mark the image as stayed locked"
fi
rc=0
out=$("$KHIB_TOP/build/khib-restore" --image "$work/target.img" --resumable 2>&1) || rc=$?
if [ "$rc" = 11 ] && printf '%s\n' "$out" | grep -q 'stayed locked at the last boot: kept, not resumed by this boot'; then
    pass "host: --resumable on the marked image exits 11 (an ordinary boot does not start R again)"
else
    fail "host: --resumable on the marked image: exit $rc ($out)"
fi
[ "$FAILED" = 0 ] || show_log "$work/locked.log"

log "restore boot 2: the right passphrase"
before=$FAILED
restore_boot "$work/restore.log" restore-expected "qemu test passphrase"
collect "$work/restore.log"
expect "$work/restore.log" "passphrase accepted" "restorer: the passphrase accepted"
expect "$work/restore.log" "authenticated in" "restorer: every chunk authenticated before writing memory"
expect "$work/restore.log" "KHIBTEST: PASS encrypt: process counter advancing" "resumed and verified"
expect "$work/restore.log" "KHIBTEST: DONE" "guest finished"
[ "$FAILED" = "$before" ] || show_log "$work/restore.log"
# For the record: Argon2id's and the authentication pass's time in R (TCG).
grep -E "passphrase accepted|authenticated in|restored image" "$work/restore.log" | sed 's/^\[[0-9.]*\] /note: /'
finish
