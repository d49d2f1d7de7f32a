# shellcheck shell=sh
# Normal boot of a restore kernel that had to refuse the image (sourced by
# guest.sh): reaching this script is the expected outcome.
result PASS "restore kernel refused the image and booted normally"
