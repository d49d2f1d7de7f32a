# khib: the engine library, khib-save, khib-restore, the front end `khib`,
# and the host tests.  Everything built goes under build/ (the library's
# archive is lib/libkhib.a); `make clean` removes it all.

CC      ?= cc
CFLAGS  ?= -O2
override CFLAGS += -std=c11 -Wall -Wextra -Werror -pthread
LDFLAGS ?=
override LDFLAGS += -pthread
ZSTD_A  ?= /usr/lib/x86_64-linux-gnu/libzstd.a

# The engine library every program links; other rules may use $(LIBKHIB).
LIBKHIB := lib/libkhib.a
LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=build/obj/%.o)

SAVE_OBJ    := $(patsubst %.c,build/obj/%.o,$(wildcard saver/*.c))
RESTORE_OBJ := $(patsubst %.c,build/obj/%.o,$(wildcard restorer/*.c))
FRONT_SRC   := $(wildcard frontend/*.c)
FRONT_OBJ   := $(FRONT_SRC:%.c=build/obj/%.o)
GEN_OBJ     := $(patsubst %.c,build/obj/%.o,$(wildcard tests/gen/*.c))
UNIT_SRC    := $(wildcard tests/unit/*.c)
UNIT_BIN    := $(patsubst tests/unit/%.c,build/tests/%,$(UNIT_SRC))

PROGRAMS := build/khib-save build/khib-restore
ifneq ($(FRONT_SRC),)
PROGRAMS += build/khib
endif
TOOLS := build/khib-gencore

.PHONY: all programs tools check check-unit clean
.SECONDARY:
.DEFAULT_GOAL := all

all: programs tools
	@size $(PROGRAMS)

programs: $(PROGRAMS)
tools: $(TOOLS)

build:
	mkdir -p build

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ilib -MMD -MP -c -o $@ $<

$(LIBKHIB): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# Static and stripped: they run from a minimal initramfs.
build/khib-save: $(SAVE_OBJ) $(LIBKHIB)
	$(CC) $(LDFLAGS) -static -s -o $@ $(SAVE_OBJ) $(LIBKHIB) $(ZSTD_A)

build/khib-restore: $(RESTORE_OBJ) $(LIBKHIB)
	$(CC) $(LDFLAGS) -static -s -o $@ $(RESTORE_OBJ) $(LIBKHIB) $(ZSTD_A)

build/khib: $(FRONT_OBJ) $(LIBKHIB)
	$(CC) $(LDFLAGS) -static -s -o $@ $(FRONT_OBJ) $(LIBKHIB) $(ZSTD_A)

# Test tools: the core generator and the unit test programs.
build/khib-gencore: $(GEN_OBJ) $(LIBKHIB)
	$(CC) $(LDFLAGS) -o $@ $(GEN_OBJ) $(LIBKHIB) $(ZSTD_A)

build/tests/%: build/obj/tests/unit/%.o $(LIBKHIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBKHIB) $(ZSTD_A)

check-unit: all $(UNIT_BIN)
	@sh tests/unit/run.sh

# Every test, then one total "N passed, N failed" line (tests/check.sh).
check: deps
	@sh tests/check.sh

clean:
	rm -rf build $(LIBKHIB)

-include $(shell find build/obj -name '*.d' 2>/dev/null)

# QEMU scenarios, the demo and benchmarks (check-qemu, demo, bench, ...).
include tests/qemu/rules.mk
include bench/rules.mk

# libFuzzer harnesses of the parsers (fuzz, check-fuzz) and the crashers' replay.
include tests/fuzz/rules.mk
