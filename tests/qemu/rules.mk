# QEMU scenarios, the demo and the benchmarks: included by the top Makefile.
# The test kernel and guest initramfs are cached under $(KHIB_CACHE).

QEMU_SCENARIOS := roundtrip

build/khib-testload: tests/qemu/testload.c | build
	$(CC) $(CFLAGS) -static -s -o $@ $<

.PHONY: check-qemu kernel $(addprefix check-qemu-,$(QEMU_SCENARIOS))

kernel:
	tests/qemu/kernel/build.sh 6.12

check-qemu: all build/khib-testload
	@tests/qemu/run-all.sh $(QEMU_SCENARIOS)
