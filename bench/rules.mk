# make bench: throughput of khib-save and khib-restore against zstd,
# makedumpfile and cat (bench/run.sh; not a test).  Included by the top
# Makefile.  Environment: KHIB_BENCH_SIZE, KHIB_BENCH_REPS, KHIB_BENCH_DIR,
# KHIB_BENCH_LEVELS, KHIB_CACHE (see bench/run.sh).

.PHONY: bench

bench: all
	@sh bench/run.sh

.PHONY: bench-qemu

# make bench-qemu: khib against the kernel's own hibernation in QEMU
# (bench/qemu.sh; not a test).
bench-qemu: all build/khib-testload
	@sh bench/qemu.sh

.PHONY: bench-jump

# make bench-jump: the jump into the transient kernel cut into phases, over
# many round trips at two window sizes (bench/jump.sh; not a test).
bench-jump: all build/khib-testload
	@sh bench/jump.sh
