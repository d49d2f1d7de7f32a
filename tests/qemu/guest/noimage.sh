# shellcheck shell=sh
# Guest side of the "no image" boot in tests/qemu/cycle.sh: R found no
# committed image and ran the normal boot, which is this script.
result PASS "restore kernel without a committed image booted normally"
