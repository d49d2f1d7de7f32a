# khib: the engine library, khib-save, khib-restore, the front end `khib`,
# and the host tests.  Everything built goes under build/ (the library's
# archive is lib/libkhib.a); `make clean` removes it all.

CC      ?= cc
CFLAGS  ?= -O2
override CFLAGS += -std=c11 -Wall -Wextra -Werror -pthread
LDFLAGS ?=
override LDFLAGS += -pthread
ZSTD_A  ?= /usr/lib/x86_64-linux-gnu/libzstd.a
# The image encryption (lib/seal.c, lib/keyheader.c; docs/encryption.md).
SODIUM_A ?= /usr/lib/x86_64-linux-gnu/libsodium.a

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

# Each program's code but its main, as an archive: the program and the unit
# tests link it.
SAVE_MAIN    := build/obj/saver/khib-save.o
RESTORE_MAIN := build/obj/restorer/khib-restore.o
FRONT_MAIN   := build/obj/frontend/khib.o
SAVE_A       := build/saver.a
RESTORE_A    := build/restorer.a
FRONT_A      := build/frontend.a
PROGRAM_A    := $(SAVE_A) $(RESTORE_A) $(FRONT_A)

PROGRAMS := build/khib-save build/khib-restore
ifneq ($(FRONT_SRC),)
PROGRAMS += build/khib
endif
TOOLS := build/khib-gencore build/khib-freepages

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

$(SAVE_A): $(filter-out $(SAVE_MAIN),$(SAVE_OBJ))
$(RESTORE_A): $(filter-out $(RESTORE_MAIN),$(RESTORE_OBJ))
$(FRONT_A): $(filter-out $(FRONT_MAIN),$(FRONT_OBJ))
$(PROGRAM_A):
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# Static and stripped: they run from a minimal initramfs.
build/khib-save: $(SAVE_MAIN) $(SAVE_A) $(LIBKHIB)
	$(CC) $(LDFLAGS) -static -s -o $@ $^ $(ZSTD_A) $(SODIUM_A)

build/khib-restore: $(RESTORE_MAIN) $(RESTORE_A) $(LIBKHIB)
	$(CC) $(LDFLAGS) -static -s -o $@ $^ $(ZSTD_A) $(SODIUM_A)

build/khib: $(FRONT_MAIN) $(FRONT_A) $(LIBKHIB)
	$(CC) $(LDFLAGS) -static -s -o $@ $^ $(ZSTD_A) $(SODIUM_A)

# Test tools: the core generator and the unit test programs.
build/khib-gencore: $(GEN_OBJ) $(LIBKHIB)
	$(CC) $(LDFLAGS) -o $@ $(GEN_OBJ) $(LIBKHIB) $(ZSTD_A) $(SODIUM_A)

# The free page finder over a QEMU memory dump (tests/qemu/freepages.sh).
build/khib-freepages: build/obj/tests/qemu/khib-freepages.o $(LIBKHIB)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBKHIB) $(ZSTD_A) $(SODIUM_A)

# The unit tests link the programs' archives and the library.
build/tests/%: build/obj/tests/unit/%.o $(PROGRAM_A) $(LIBKHIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(ZSTD_A) $(SODIUM_A)

check-unit: all $(UNIT_BIN)
	@sh tests/unit/run.sh

# Every test, then one total "N passed, N failed" line (tests/check.sh).
check: deps
	@sh tests/check.sh

clean:
	rm -rf build $(LIBKHIB)

# The initramfs of the transient and restore kernels, and installation.
PREFIX ?= /usr
DESTDIR ?=
.PHONY: initramfs install install-hooks

initramfs: build/khib-initrd.img

build/khib-initrd.img: $(PROGRAMS) initramfs/init hooks/khib-lib.sh mkinitramfs.sh
	./mkinitramfs.sh -b build -o $@

install: $(PROGRAMS) build/khib-initrd.img
	install -D -m 755 build/khib $(DESTDIR)$(PREFIX)/sbin/khib
	install -D -m 755 build/khib-save $(DESTDIR)$(PREFIX)/lib/khib/khib-save
	install -D -m 755 build/khib-restore $(DESTDIR)$(PREFIX)/lib/khib/khib-restore
	install -D -m 644 build/khib-initrd.img $(DESTDIR)$(PREFIX)/lib/khib/khib-initrd.img
	install -D -m 644 docs/khib.md $(DESTDIR)$(PREFIX)/share/doc/khib/khib.md
	install -D -m 644 docs/encryption.md $(DESTDIR)$(PREFIX)/share/doc/khib/encryption.md
	install -D -m 644 systemd/khib-retire.service $(DESTDIR)/usr/lib/systemd/system/khib-retire.service

# The restore step in a distribution's own initramfs (docs/hooks.md): opt-in,
# because every initramfs built afterwards carries khib-restore, kexec and a
# copy of its kernel.  The generators look only in these /usr directories.
install-hooks: install
	install -D -m 755 hooks/khib-resume.sh $(DESTDIR)$(PREFIX)/lib/khib/khib-resume.sh
	install -D -m 644 hooks/khib-lib.sh $(DESTDIR)$(PREFIX)/lib/khib/khib-lib.sh
	install -D -m 755 hooks/initramfs-tools/hooks/khib $(DESTDIR)/usr/share/initramfs-tools/hooks/khib
	install -D -m 755 hooks/initramfs-tools/scripts/local-top/khib \
		$(DESTDIR)/usr/share/initramfs-tools/scripts/local-top/khib
	install -D -m 755 hooks/dracut/90khib/module-setup.sh $(DESTDIR)/usr/lib/dracut/modules.d/90khib/module-setup.sh
	install -D -m 755 hooks/dracut/90khib/khib-pre-mount.sh \
		$(DESTDIR)/usr/lib/dracut/modules.d/90khib/khib-pre-mount.sh
	install -D -m 644 hooks/mkinitcpio/install/khib $(DESTDIR)/usr/lib/initcpio/install/khib
	install -D -m 644 hooks/mkinitcpio/hooks/khib $(DESTDIR)/usr/lib/initcpio/hooks/khib
	install -D -m 644 docs/hooks.md $(DESTDIR)$(PREFIX)/share/doc/khib/hooks.md

# khib's rescue stick (docs/rescue-stick.md): STICK= a file (the default) or a
# whole USB disk; KERNEL= the kernel (default the running one's);
# RESCUE_STICK_ARGS= more options of mkrescue-stick.sh (--window, --console ...).
STICK ?= build/khib-rescue-stick.img
.PHONY: rescue-stick
rescue-stick: build/khib-initrd.img
	./mkrescue-stick.sh --initrd build/khib-initrd.img $(if $(KERNEL),--kernel $(KERNEL)) $(RESCUE_STICK_ARGS) $(STICK)

-include $(shell find build/obj -name '*.d' 2>/dev/null)

# QEMU scenarios, the demo and benchmarks (check-qemu, demo, bench, ...).
include tests/qemu/rules.mk
include bench/rules.mk

# libFuzzer harnesses of the parsers (fuzz, check-fuzz) and the crashers' replay.
include tests/fuzz/rules.mk

# The Debian package (debian/, docs in man/): dpkg-buildpackage runs in a copy
# of the tree under DEB_DIR (build/deb/), so that its clean step (make clean)
# never touches this tree's build/; the .deb, .changes and .buildinfo land in
# DEB_OUT (build/), each renamed into place whole.  Two runs with the same
# DEB_DIR take turns (a lock beside it: distro and soak both build the .deb,
# and may run at once); tests/unit/deb.sh gives both a directory of its own.
DEB_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version)
DEB_ARCH    = $(shell dpkg --print-architecture)
DEB_DIR    ?= build/deb
DEB_OUT    ?= build
MAN_PAGES  := man/khib.8 man/khib-save.8 man/khib-restore.8 man/khib.conf.5 man/khib-rescue-stick.8
.PHONY: deb deb-locked man
deb:
	@mkdir -p $(dir $(DEB_DIR)) && flock $(DEB_DIR).lock $(MAKE) --no-print-directory deb-locked
deb-locked:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/khib $(DEB_OUT)
	tar --exclude=./build --exclude=./.git --exclude='*.o' --exclude='*.a' -cf - . | tar -C $(DEB_DIR)/khib -xf -
	cd $(DEB_DIR)/khib && dpkg-buildpackage -us -uc -b
	set -e; for f in deb changes buildinfo; do \
		cp $(DEB_DIR)/khib_$(DEB_VERSION)_$(DEB_ARCH).$$f $(DEB_OUT)/khib_$(DEB_VERSION)_$(DEB_ARCH).$$f.tmp; \
		mv -f $(DEB_OUT)/khib_$(DEB_VERSION)_$(DEB_ARCH).$$f.tmp $(DEB_OUT)/khib_$(DEB_VERSION)_$(DEB_ARCH).$$f; \
	done

# The man pages must render without a warning.
man:
	@for f in $(MAN_PAGES); do \
		out=$$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z $$f 2>&1 >/dev/null; \
			groff -man -ww -z $$f 2>&1); \
		[ -z "$$out" ] || { printf '%s:\n%s\n' "$$f" "$$out" >&2; exit 1; }; \
	done; echo "man: $(MAN_PAGES) render without warnings"
