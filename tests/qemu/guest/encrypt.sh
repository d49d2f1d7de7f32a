# shellcheck shell=sh
# Guest side of tests/qemu/encrypt.sh (sourced by guest.sh): fill memory
# with the host's secret marker and a workload; a test snapshot in clear on
# vdb (the host's control: the marker is found there); then set encryption
# up on the target, hibernate with encrypt=yes; after the resume (the host
# typed the passphrase on R's console) verify everything.
secret=
# shellcheck disable=SC2154 # cmdline: read by guest.sh
for word in $cmdline; do
    case "$word" in khibtest.secret=*) secret=${word#*=} ;; esac
done
start_workload 128 64
# The marker in memory only (tmpfs), every 64 KiB between random bytes, so
# that compression keeps it verbatim in an image in clear: the host looks
# for it on the raw disks.
mkdir -p /data/secret
i=0
while [ "$i" -lt 64 ]; do
    printf '%s' "$secret" >> /data/secret/1
    dd if=/dev/urandom bs=64k count=1 >> /data/secret/1 2>/dev/null
    i=$((i + 1))
done
echo "encrypt: a test snapshot in clear on /dev/vdb"
if khib_hibernate --test --target /dev/vdb --config /dev/null; then
    result PASS "test snapshot in clear on /dev/vdb"
else
    result FAIL "khib hibernate --test --target /dev/vdb exited $?"
fi
echo 'qemu test passphrase' > /run/pass
# The default Argon2id parameters: the restore kernel runs them in its window.
check "khib setup-encryption" khib setup-encryption --target /dev/vda --passphrase-fd 3 3</run/pass
rm -f /run/pass
printf 'encrypt=yes\n' > /run/khib.conf
if khib check --config /run/khib.conf --target /dev/vda --kernel /boot/khib/vmlinuz \
    --initrd /usr/lib/khib/khib-initrd.img 2>&1 | grep -q 'PASS  encryption is set up'; then
    result PASS "khib check: encryption is set up"
else
    result FAIL "khib check does not report encryption as set up"
fi
echo "encrypt: hibernating"
if khib_hibernate --config /run/khib.conf; then
    result PASS "encrypted hibernation resumed and returned 0"
else
    result FAIL "khib hibernate exited $?"
fi
verify_resumed "encrypt"
check "encrypt: the marker is still in memory" grep -q -F "$secret" /data/secret/1
