#!/bin/sh
# The test guest's "normal boot" (/etc/khib/normal-boot in its initramfs):
# run the scenario named by khibtest.scenario= and power off.
set -u
PATH=/bin:/sbin:/usr/sbin:/usr/bin
export PATH

scenario=
read -r cmdline < /proc/cmdline
for word in $cmdline; do
    case "$word" in khibtest.scenario=*) scenario=${word#*=} ;; esac
done

# shellcheck disable=SC1091
. /test/checks.sh
if [ -n "$scenario" ] && [ -f "/test/$scenario.sh" ]; then
    # shellcheck disable=SC1090
    . "/test/$scenario.sh"
else
    result FAIL "unknown scenario '$scenario'"
fi
echo "KHIBTEST: DONE"
sync
poweroff -f
