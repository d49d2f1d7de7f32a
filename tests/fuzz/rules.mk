# Fuzzing of the image and core-header parsers (docs/fuzzing.md): included by
# the top Makefile.
#
#   make fuzz        the libFuzzer harnesses build/fuzz/fuzz_NAME (clang)
#   make check-fuzz  build them, run each for FUZZ_SECONDS (default 30)
#
# The harnesses and the library are compiled again with clang and the
# sanitizers into build/fuzz/obj.  Without libFuzzer, the same harness
# functions replay tests/fuzz/crashers/ in the unit test test_fuzz_replay.

FUZZ_CC     ?= clang
FUZZ_CFLAGS ?= -O1 -g -fno-omit-frame-pointer
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_NAMES  := superblock index image elfcore handoff
FUZZ_BINS   := $(FUZZ_NAMES:%=build/fuzz/fuzz_%)

# The harness functions, and the restorer code they call besides the library.
FUZZ_SRC    := $(FUZZ_NAMES:%=tests/fuzz/fuzz_%.c) tests/fuzz/common.c restorer/info.c restorer/checks.c
# The library, the restorer code and the helpers, as one archive.
FUZZ_LIB    := build/fuzz/libkhib-fuzz.a
FUZZ_LIB_SRC := $(LIB_SRC) restorer/info.c restorer/checks.c tests/fuzz/common.c

.PHONY: fuzz check-fuzz

fuzz: $(FUZZ_BINS)

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -std=c11 -Wall -Wextra -Werror -Ilib \
		-MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_SRC:%.c=build/fuzz/obj/%.o)
	rm -f $@
	$(AR) rcs $@ $^

build/fuzz/fuzz_%: tests/fuzz/entry.c build/fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -std=c11 -Wall -Wextra -Werror -Ilib \
		-DKHIB_FUZZ_TARGET=khib_fuzz_$* -o $@ $^ $(ZSTD_A) $(SODIUM_A) -pthread

# The crashers' replay: a unit test (plain $(CC), no libFuzzer) that also
# links the harnesses and the restorer code they call.
FUZZ_REPLAY_OBJ := $(FUZZ_SRC:%.c=build/obj/%.o)

build/tests/test_fuzz_replay: build/obj/tests/unit/test_fuzz_replay.o $(FUZZ_REPLAY_OBJ) $(LIBKHIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(FUZZ_REPLAY_OBJ) $(LIBKHIB) $(ZSTD_A) $(SODIUM_A) -pthread

check-fuzz: all
	@sh tests/fuzz/run.sh

-include $(shell find build/fuzz/obj -name '*.d' 2>/dev/null)
