#!/bin/sh
# shellcheck source-path=SCRIPTDIR
# The kernel's own kexec-jump selftest, run inside a guest of each test
# kernel as a check of the jump independent of khib and kexec-tools.
#
# Usage: selftest-kexec.sh [KERNEL...]    kernel recipes; default $KHIB_KERNEL
#                                         when set (run-all.sh), else "7.2 6.12"
#
# tools/testing/selftests/kexec/test_kexec_jump.{c,sh} (added in 6.15) loads
# one page of purgatory at 0x400000 with kexec_load(KEXEC_PRESERVE_CONTEXT)
# and calls reboot(LINUX_REBOOT_CMD_KEXEC) twice; the purgatory executes
# int3, which relocate_kernel's debug exception handler (6.15 and later:
# kexec_debug_exc_vectors in arch/x86/kernel/relocate_kernel_64.S) returns
# from, and returns to the kernel.  It needs CONFIG_KEXEC_JUMP and
# /proc/config.gz, no kexec-tools and no kernel image; it runs under TCG.
#
# The program comes from the 7.2 source package (6.12's has none), built
# static on the host.  Two variants: "upstream", exactly as shipped, and
# "noint3", the same bytes with each int3 replaced by a nop.  A kernel before
# 6.15 runs relocate_kernel with a null IDT, so the upstream program's int3
# triple-faults there by construction: on such a kernel only "noint3" runs
# (KHIB_SELFTEST_VARIANTS="upstream noint3" runs both anyway).
set -eu
if [ "$#" = 0 ]; then
    if [ -n "${KHIB_KERNEL:-}" ]; then set -- "$KHIB_KERNEL"; else set -- 7.2 6.12; fi
fi
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

# The selftest's source: the pinned 7.2 package, extracted once.
# shellcheck disable=SC1091
tarball=$(. "$KHIB_TOP/tests/qemu/kernel/7.2.recipe" &&
    "$KHIB_TOP/tests/qemu/kernel/fetch-source.sh" "$SERIES" "$SUITE" "$VERSION")
package=$(cat "$(dirname "$tarball")/package")
src="$KHIB_CACHE/selftest/${package%.deb}"
if [ ! -f "$src/test_kexec_jump.c" ]; then
    log "extracting tools/testing/selftests/kexec from $package"
    rm -rf "$src.tmp"
    mkdir -p "$src.tmp"
    tar -xJf "$tarball" -C "$src.tmp" --strip-components=5 \
        "${package%%_*}/tools/testing/selftests/kexec"
    rm -rf "$src"
    mv "$src.tmp" "$src"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ov="$work/overlay"
for v in upstream noint3; do
    mkdir -p "$ov/selftest/$v"
    cp "$src/test_kexec_jump.sh" "$src/kexec_common_lib.sh" "$ov/selftest/$v/"
done
gcc -static -O2 -Wall -o "$ov/selftest/upstream/test_kexec_jump" "$src/test_kexec_jump.c"
sed 's/"  int3\\n"/"  nop\\n"/' "$src/test_kexec_jump.c" > "$work/test_kexec_jump-noint3.c"
grep -q int3 "$work/test_kexec_jump-noint3.c" && { log "the noint3 variant still has an int3"; exit 1; }
gcc -static -O2 -Wall -o "$ov/selftest/noint3/test_kexec_jump" "$work/test_kexec_jump-noint3.c"
# The kernel unpacks concatenated archives: the guest initramfs, then this.
(cd "$ov" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) | gzip -n > "$work/selftest.cpio.gz"

for name in "$@"; do
    kernel=$(test_kernel "$name")
    release=$(cat "$(dirname "$kernel")/release")
    initrd="$work/initrd-$name.img"
    cat "$(guest_initrd "$kernel")" "$work/selftest.cpio.gz" > "$initrd"
    # The debug exception handler that makes the upstream program's int3
    # return came with 6.15.
    major=${release%%.*}
    minor=${release#*.}
    minor=${minor%%[!0-9]*}
    if [ -n "${KHIB_SELFTEST_VARIANTS:-}" ]; then
        variants=$KHIB_SELFTEST_VARIANTS
    elif [ "$major" -gt 6 ] || { [ "$major" = 6 ] && [ "$minor" -ge 15 ]; }; then
        variants="upstream noint3"
    else
        variants=noint3
        log "$release: before 6.15 relocate_kernel has no IDT; running only the noint3 variant"
    fi
    for v in $variants; do
        glog="$work/$name-$v.log"
        log "kernel $name ($release): test_kexec_jump, $v"
        run_guest "$glog" "$kernel" "$initrd" "khibtest.scenario=selftest khibtest.selftest=$v" || true
        before=$FAILED
        sed -n 's/^\[[0-9.]*\] selftest: /  /p' "$glog"
        collect "$glog"
        expect "$glog" "KHIBTEST: DONE" "$name $v: the guest finished after the selftest's jumps"
        [ "$FAILED" = "$before" ] || show_log "$glog"
    done
done
finish
