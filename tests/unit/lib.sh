# shellcheck shell=sh
# Sourced by the shell tests of tests/unit/: the counts and the check
# helpers.  `check DESCRIPTION COMMAND...` counts COMMAND's success; `bad`
# says FAIL and why; `counts` prints the "N passed, N failed" line that
# tests/unit/run.sh reads, and fails when one did.
passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() {   # check DESCRIPTION COMMAND...
    d=$1
    shift
    if "$@"; then ok; else bad "$d"; fi
}
counts() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
