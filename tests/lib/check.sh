# shellcheck shell=sh
# Sourced by the shell tests (tests/unit/*.sh): the counts and the check
# helpers, defined once.
#   pass [NAME]           one check passed (NAME printed as "PASS NAME")
#   fail NAME [DETAIL...] one failed: "FAIL: NAME", each DETAIL indented
#   ok, bad TEXT          the same without a name to print / with one line
#   check NAME COMMAND... COMMAND's success passes NAME
#   expect NAME STATUS PATTERN COMMAND...  COMMAND exits with STATUS and its
#                         output (stdout and stderr) matches the extended
#                         regex PATTERN (if not empty)
#   counts                the "N passed, N failed" line that the runners
#                         read (tests/lib/counts.sh); fails when one did
passed=0
failed=0
pass() {
    passed=$((passed + 1))
    [ $# = 0 ] || echo "PASS $1"
}
fail() {
    failed=$((failed + 1))
    echo "FAIL: $1"
    shift
    [ $# = 0 ] || printf '%s\n' "$@" | sed 's/^/    | /'
}
ok() { passed=$((passed + 1)); }
bad() { fail "$*"; }
check() {   # check NAME COMMAND...
    check_name=$1
    shift
    if "$@"; then ok; else bad "$check_name"; fi
}
expect() {
    name=$1 want=$2 pattern=$3
    shift 3
    rc=0
    out=$("$@" 2>&1) || rc=$?
    if [ "$rc" != "$want" ]; then
        fail "$name: exit status $rc, expected $want" "$out"
    elif [ -n "$pattern" ] && ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
        fail "$name: output does not match /$pattern/" "$out"
    else
        ok
    fi
}
counts() {
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
