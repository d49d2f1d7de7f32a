# shellcheck shell=sh
# Guest side of tests/qemu/roundtrip.sh: three `khib hibernate --test` round
# trips in one boot, each verified (sourced by guest.sh).
start_workload 256 64
for round in 1 2 3; do
    echo "roundtrip: round $round"
    if khib_hibernate --test; then
        result PASS "round $round: khib hibernate --test returned 0"
    else
        result FAIL "round $round: khib hibernate --test exited $?"
    fi
    verify_resumed "round $round"
    check "round $round: image on /dev/vda verifies" khib-restore --image /dev/vda --verify
done
