# QEMU scenarios, the demo, the initramfs and installation: included by the
# top Makefile.  The test kernel and guest initramfs are cached under
# $KHIB_CACHE (default ~/.cache/khib), keyed by their inputs.

# NAME@KERNEL runs a scenario with another test kernel (tests/qemu/run-all.sh,
# docs/kernels.md): the core ones again on Debian's newest, 7.2.
# The kernel's selftest is written for 6.15's relocate_kernel: on 7.2 only
# (docs/kernels.md).
QEMU_SCENARIOS := roundtrip cycle faults disk-safety
QEMU_SCENARIOS += roundtrip@7.2 cycle@7.2 faults@7.2 selftest-kexec@7.2
PREFIX ?= /usr
DESTDIR ?=

.PHONY: deps kernel initramfs check-qemu demo install install-hooks

# Debian packages for the build, tests and demo (a no-op when all are there).
deps:
	@sh tools/install-deps.sh

build/khib-testload: tests/qemu/testload.c | build
	$(CC) $(CFLAGS) -static -s -o $@ $<

kernel:
	tests/qemu/kernel/build.sh 6.12

initramfs: build/khib-initrd.img

build/khib-initrd.img: $(PROGRAMS) initramfs/init hooks/khib-lib.sh mkinitramfs.sh
	./mkinitramfs.sh -b build -o $@

check-qemu: all build/khib-testload
	@tests/qemu/run-all.sh $(QEMU_SCENARIOS)

demo: deps all build/khib-testload
	@tests/qemu/demo.sh

install: $(PROGRAMS) build/khib-initrd.img
	install -D -m 755 build/khib $(DESTDIR)$(PREFIX)/sbin/khib
	install -D -m 755 build/khib-save $(DESTDIR)$(PREFIX)/lib/khib/khib-save
	install -D -m 755 build/khib-restore $(DESTDIR)$(PREFIX)/lib/khib/khib-restore
	install -D -m 644 build/khib-initrd.img $(DESTDIR)$(PREFIX)/lib/khib/khib-initrd.img
	install -D -m 644 docs/khib.md $(DESTDIR)$(PREFIX)/share/doc/khib/khib.md
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
