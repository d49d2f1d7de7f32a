# shellcheck shell=sh
# Sourced by the test runners (tests/unit/run.sh, tests/unit/deb.sh,
# tests/qemu/run-all.sh, tests/check.sh): every test ends with one
# "N passed, N failed" line.
#
# counts_of RC OUTPUT: print "P F", the passed and failed counts of
# OUTPUT's last line; a last line of another form counts as one failure, and
# so does a nonzero RC with no failure counted.  Callers split the pair:
#   c=$(counts_of "$rc" "$out"); p=${c% *} f=${c#* }
counts_of() {
    counts_line=$(printf '%s\n' "$2" | tail -n 1)
    counts_p=$(echo "$counts_line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    counts_f=$(echo "$counts_line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$counts_p" ]; then
        counts_p=0
        counts_f=1
    fi
    [ "$1" = 0 ] || [ "$counts_f" != 0 ] || counts_f=1
    echo "$counts_p $counts_f"
}
