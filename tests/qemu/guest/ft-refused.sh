# shellcheck shell=sh
# Guest side of tests/qemu/file-target.sh: the restore kernel refused the
# image in the xfs file (mounted since) and booted normally: this script.
result PASS "the restore kernel refused the image in the file and booted normally"
