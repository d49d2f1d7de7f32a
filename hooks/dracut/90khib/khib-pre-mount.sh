#!/bin/sh
# dracut pre-mount hook of the khib module: khib's restore step.
#
# dracut *sources* hook files into its own shell (init.sh, PID 1, or the
# dracut-pre-mount service's shell): no `set -e`, no `exit` here, or a
# failure would end that shell and stop the boot.  khib-resume.sh runs as a
# child process and always exits 0.  KHIB_RESUME (tests) replaces
# /usr/lib/khib/khib-resume.sh.
if [ -f "${KHIB_RESUME:-/usr/lib/khib/khib-resume.sh}" ]; then
    sh "${KHIB_RESUME:-/usr/lib/khib/khib-resume.sh}" ||
        echo "khib: khib-resume.sh failed (exit $?): booting normally" >&2
fi
