# shellcheck shell=sh
# Guest side of tests/qemu/hybrid.sh (sourced by guest.sh): suspend-to-both
# (docs/hybrid.md).  Hybrid 1: the transient kernel saves, sleeps in S3, the
# host wakes it (QMP system_wakeup): the system comes back at once, its
# image retired.  Hybrid 2: the host cuts the power during the sleep; its
# restore boot resumes the system from the image.
start_record_writer
start_workload 64 64
# hybrid LABEL WANT: khib hibernate --hybrid; exit 0 and WANT in its output.
hybrid() {
    echo "hybrid: $1"
    khib_hibernate --hybrid > "/tmp/$1.out" 2>&1 && hrc=0 || hrc=$?
    sed 's/^/    | /' "/tmp/$1.out"
    if [ "$hrc" = 0 ] && grep -qF "$2" "/tmp/$1.out"; then
        result PASS "$1: khib hibernate --hybrid returned 0: '$2'"
    else
        result FAIL "$1: khib hibernate --hybrid exited $hrc, without '$2'"
    fi
    verify_resumed "$1"
    check "$1: record writer still running" kill -0 "$WRITER_PID"
}
hybrid "hybrid 1 (woken)" "khib: woke from suspend-to-both"
state=$(khib-restore --image /dev/vda --info 2>/dev/null | sed -n 's/^state: *//p')
abandoned=$(khib-restore --image /dev/vda --info 2>/dev/null | sed -n 's/^abandoned: *//p')
echo "image state $state, abandoned $abandoned"
case "$state $abandoned" in
    "ABANDONED "*"woke from suspend-to-both"*) result PASS "hybrid 1: the image is retired (ABANDONED at the wake)" ;;
    *) result FAIL "hybrid 1: the image is $state ($abandoned)" ;;
esac
hybrid "hybrid 2 (power cut)" "khib: resumed from image"
kill "$WRITER_PID"
wait "$WRITER_PID" 2>/dev/null
check "unmount /mnt after the last cycle" umount /mnt
