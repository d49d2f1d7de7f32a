# QEMU scenarios and the demo: included by the top Makefile.  The test kernel and guest initramfs are cached under
# $KHIB_CACHE (default ~/.cache/khib), keyed by their inputs.

# NAME@KERNEL runs a scenario with another test kernel (tests/qemu/run-all.sh,
# docs/kernels.md): the core ones again on Debian's newest, 7.2.
# The kernel's selftest is written for 6.15's relocate_kernel: on 7.2 only
# (docs/kernels.md).
# distro boots real Debian 12 and 13 systems through GRUB (docs/distro.md);
# rescue-stick boots the rescue stick under SeaBIOS and OVMF (docs/rescue-stick.md).
# encrypt: one encrypted cycle, the passphrase typed on the console, on 6.12
# only (docs/encryption.md; three boots, 92-129 s here).
# file-target: the image in a file on ext4 and xfs (docs/file-target.md; five boots);
# hybrid: suspend-to-both, woken and cut (docs/hybrid.md; two boots).
# soak-sample: six power cuts of the soak (docs/reliability.md) in the Debian 12
# guest, started after distro (whose bookworm disk it boots) beside the
# scenarios that follow (run-all.sh NAME+): their single guests leave part of
# the two CPUs idle.
QEMU_SCENARIOS := roundtrip cycle faults disk-safety file-target hybrid freepages distro soak-sample+ rescue-stick encrypt
QEMU_SCENARIOS += roundtrip@7.2 cycle@7.2 faults@7.2 freepages@7.2 selftest-kexec@7.2
.PHONY: deps kernel check-qemu demo soak

# Debian packages for the build, tests and demo (a no-op when all are there).
deps:
	@sh tools/install-deps.sh

build/khib-testload: tests/qemu/testload.c | build
	$(CC) $(CFLAGS) -static -s -o $@ $<

kernel:
	tests/qemu/kernel/build.sh 6.12

check-qemu: all build/khib-testload
	@tests/qemu/run-all.sh $(QEMU_SCENARIOS)

demo: deps all build/khib-testload
	@tests/qemu/demo.sh

# The soak (docs/reliability.md): 20 cycles and 50 power cuts at seeded random moments in one Debian 12 guest;
# hours under TCG, so not part of check.  KHIB_SOAK_SEED, KHIB_SOAK_CYCLES, KHIB_SOAK_CUTS, KHIB_SOAK_REPLAY.
soak: all build/khib-testload
	@tests/qemu/soak.sh
