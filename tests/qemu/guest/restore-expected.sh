# shellcheck shell=sh
# Normal boot of a restore kernel that should have resumed the saved system.
result FAIL "restore kernel booted normally instead of resuming the saved system"
