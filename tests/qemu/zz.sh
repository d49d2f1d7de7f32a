#!/bin/sh
set -eu
. "$(dirname "$0")/lib/common.sh"
kernel=$(test_kernel 6.12)
initrd=$(guest_initrd "$kernel")
truncate -s 1G /tmp/zz.img
run_guest /tmp/zz.log "$kernel" "$initrd" "khibtest.scenario=zz-kexec-time" -drive file=/tmp/zz.img,if=virtio,format=raw || true
