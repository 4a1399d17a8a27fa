# SPDX-License-Identifier: GPL-2.0
#
# vde: build the module, the userspace tools and the tests.
#
#   make                     vde.ko for $(KDIR) and the userspace tools
#   make KDIR=/path/to/build vde.ko for another kernel's build tree
#   make modules-all         vde.ko for every guest kernel (kernels.conf)
#   make deps                install build/test dependencies (Debian 12)
#   make check               every test: style gates, host tests, VM suite
#   make demo                the built-in example, end to end in a VM
#   make bench               benchmarks in a VM: vde against loop and dm-crypt,
#                            exported against direct (BENCH="plain enc export";
#                            BENCH=cipher: the cipher alone, libvde vs kernel)
#   make soak                bounded soak in a VM (SOAK_SECONDS, default 60)
#   make powercut            power cuts during writes (KERNEL, ROUNDS)
#   make debug-check         the VM suite on a KASAN/lockdep/kmemleak kernel
#   make man                 the man pages, into build/man/
#   make install             vdectl, man pages, udev rule, systemd units,
#                            completion, /etc files (DESTDIR, PREFIX=/usr)
#   make uninstall           remove what install installed
#   make deb                 vde-dkms and vdectl .debs, into build/deb/
#
# Module objects go to build/<kernel release>/, so several kernels can be
# built side by side without cleaning.

TOP := $(abspath .)
CACHE := $(TOP)/.cache

# Default kernel: the running one if its build tree is installed, otherwise
# the first guest kernel of tools/testing/vm/kernels.conf.
guest_kvers = $(foreach l,$(shell awk '!/^\#/ && NF { print $$1 }' \
		tools/testing/vm/kernels.conf), \
		$(shell cat $(CACHE)/kernels/$(l).kver 2>/dev/null))
ifeq ($(KDIR),)
  ifneq ($(wildcard /lib/modules/$(shell uname -r)/build/Makefile),)
    KDIR := /lib/modules/$(shell uname -r)/build
  else
    KDIR := /usr/src/linux-headers-$(firstword $(guest_kvers))
  endif
endif

# build_modules KDIR...: vde.ko for each kernel tree, in a shadow tree of
# symlinks under build/<kernel release>/ so that kernels do not share objects.
define build_modules
	@set -e; for kdir in $(1); do \
	[ -f $$kdir/Makefile ] || { echo "no kernel build tree at $$kdir (make deps?)" >&2; exit 1; }; \
	kver=$$(sed -n 's/.*UTS_RELEASE "\(.*\)"/\1/p' $$kdir/include/generated/utsrelease.h); \
	out=$(TOP)/build/$$kver; \
	mkdir -p $$out/kmod; \
	ln -sfn $(TOP)/Kbuild $$out/Kbuild; \
	ln -sfn $(TOP)/include $$out/include; \
	for f in $(TOP)/kmod/*.[ch]; do ln -sfn $$f $$out/kmod/; done; \
	echo "  MODULE  $$out/vde.ko"; \
	$(MAKE) --no-print-directory -C $$kdir M=$$out $(KBUILD_ARGS) modules; \
	done
endef

.PHONY: all module modules-all user deps check demo bench soak powercut debug-check clean help
.PHONY: man install uninstall deb

all: module user

# Build vde.ko for the kernel tree $(KDIR) in a shadow tree of symlinks.
module:
	$(call build_modules,$(KDIR))

modules-all:
	$(call build_modules,$(foreach k,$(guest_kvers),/usr/src/linux-headers-$(k)))

user:
	@$(MAKE) -C user

deps:
	tools/testing/deps.sh

check:
	tools/testing/check.sh

demo:
	tools/testing/demo.sh

bench: modules-all user
	@$(MAKE) -s -C tools/testing/selftests/vde
	@$(MAKE) -s -C tools/testing/bench
	tools/testing/vm/run --kernel $(or $(KERNEL),all) --timeout 3600 -- sh -c \
		'for b in $(or $(BENCH),plain enc export); do tools/testing/bench/$$b.sh || exit; done'

soak: modules-all user
	@$(MAKE) -s -C tools/testing/selftests/vde
	tools/testing/vm/run --kernel $(or $(KERNEL),all) --timeout $$(( $(or $(SOAK_SECONDS),60) + 600 )) \
		-- env VDE_SOAK_SECONDS=$(or $(SOAK_SECONDS),60) build/selftests/vde/test_soak.sh

powercut: modules-all user
	@$(MAKE) -s -C tools/testing/selftests/vde
	tools/testing/powercut.sh --kernel $(or $(KERNEL),6.1) --rounds $(or $(ROUNDS),3)

debug-check: user
	tools/testing/vm/debug-kernel.sh
	tools/testing/check.sh --kernel debug --vm-only

clean:
	rm -rf build
	@$(MAKE) -C user clean

help:
	@sed -n '3,22p' Makefile | sed 's/^# \{0,1\}//'

# --- installation (Documentation/install.rst) -----------------------------
# vde.ko itself is installed by DKMS (dkms.conf, the vde-dkms package).

PREFIX ?= /usr
SYSCONFDIR ?= /etc
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
MANDIR ?= $(PREFIX)/share/man
UDEVRULESDIR ?= $(LIBDIR)/udev/rules.d
SYSTEMDUNITDIR ?= $(LIBDIR)/systemd/system
SYSTEMDGENERATORDIR ?= $(LIBDIR)/systemd/system-generators
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
USER_O ?= $(TOP)/build/user
MAN_O ?= $(TOP)/build/man
DEB_O ?= $(TOP)/build/deb

MANS := $(MAN_O)/vdectl.8 $(MAN_O)/vde.4 $(MAN_O)/vdetab.5
ETC := user/etc

# The files of user/etc/ name the default paths; other PREFIXes get theirs.
etc_sed := sed -e 's|/usr/sbin/vdectl|$(SBINDIR)/vdectl|g' \
	-e 's|/usr/lib/vde/|$(LIBDIR)/vde/|g' \
	-e 's|/lib/systemd/system/vde-attach@|$(SYSTEMDUNITDIR)/vde-attach@|g'

man: $(MANS)

$(MAN_O)/vdectl.8: Documentation/vdectl.rst
$(MAN_O)/vde.4: Documentation/vde.4.rst
$(MAN_O)/vdetab.5: Documentation/vdetab.5.rst
$(MANS):
	@mkdir -p $(@D)
	rst2man --halt=warning $< $@.tmp
	@mv $@.tmp $@

# install_conf SRC DEST: a configuration file, kept if it exists.
install_conf = [ -e $(2) ] || install -m 0644 $(1) $(2)

install: man
	@$(MAKE) --no-print-directory -C user O=$(USER_O)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR)/vde \
		$(DESTDIR)$(MANDIR)/man4 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UDEVRULESDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSTEMDGENERATORDIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSCONFDIR)/modprobe.d
	install -m 0755 $(USER_O)/vdectl $(DESTDIR)$(SBINDIR)/vdectl
	$(etc_sed) $(ETC)/vde-attach >$(DESTDIR)$(LIBDIR)/vde/vde-attach
	chmod 0755 $(DESTDIR)$(LIBDIR)/vde/vde-attach
	install -m 0644 $(MAN_O)/vde.4 $(DESTDIR)$(MANDIR)/man4/vde.4
	install -m 0644 $(MAN_O)/vdetab.5 $(DESTDIR)$(MANDIR)/man5/vdetab.5
	install -m 0644 $(MAN_O)/vdectl.8 $(DESTDIR)$(MANDIR)/man8/vdectl.8
	install -m 0644 $(ETC)/udev/60-vde.rules $(DESTDIR)$(UDEVRULESDIR)/60-vde.rules
	for u in vde-attach@.service vde-attach.target; do \
		$(etc_sed) $(ETC)/systemd/$$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u || exit 1; \
	done
	$(etc_sed) $(ETC)/systemd/vde-attach-generator \
		>$(DESTDIR)$(SYSTEMDGENERATORDIR)/vde-attach-generator
	chmod 0755 $(DESTDIR)$(SYSTEMDGENERATORDIR)/vde-attach-generator
	install -m 0644 $(ETC)/bash-completion/vdectl $(DESTDIR)$(BASHCOMPDIR)/vdectl
	$(call install_conf,$(ETC)/vdetab,$(DESTDIR)$(SYSCONFDIR)/vdetab)
	$(call install_conf,$(ETC)/modprobe.d/vde.conf,$(DESTDIR)$(SYSCONFDIR)/modprobe.d/vde.conf)

# Configuration files go only if unchanged.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/vdectl $(DESTDIR)$(LIBDIR)/vde/vde-attach \
		$(DESTDIR)$(MANDIR)/man4/vde.4 $(DESTDIR)$(MANDIR)/man5/vdetab.5 \
		$(DESTDIR)$(MANDIR)/man8/vdectl.8 \
		$(DESTDIR)$(UDEVRULESDIR)/60-vde.rules \
		$(DESTDIR)$(SYSTEMDUNITDIR)/vde-attach@.service \
		$(DESTDIR)$(SYSTEMDUNITDIR)/vde-attach.target \
		$(DESTDIR)$(SYSTEMDGENERATORDIR)/vde-attach-generator \
		$(DESTDIR)$(BASHCOMPDIR)/vdectl
	-rmdir $(DESTDIR)$(LIBDIR)/vde
	! cmp -s $(ETC)/vdetab $(DESTDIR)$(SYSCONFDIR)/vdetab || \
		rm -f $(DESTDIR)$(SYSCONFDIR)/vdetab
	! cmp -s $(ETC)/modprobe.d/vde.conf $(DESTDIR)$(SYSCONFDIR)/modprobe.d/vde.conf || \
		rm -f $(DESTDIR)$(SYSCONFDIR)/modprobe.d/vde.conf

# The packages are built from a copy of the files git would commit (tracked
# and untracked, not ignored), or of the whole tree without git, so that
# nothing built in the tree ends up in them.
deb:
	@set -e; \
	ver=$$(dpkg-parsechangelog -l debian/changelog -SVersion); \
	src=$(DEB_O)/vde-$${ver%-*}; \
	rm -rf $(DEB_O); mkdir -p $$src; \
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard | \
		xargs -0 sh -c 'for f; do [ ! -e "$$f" ] || printf "%s\0" "$$f"; done' sh | \
		tar --null -T - -cf - | tar -C $$src -xf -; \
	else \
		tar --exclude=./build --exclude=./.cache --exclude=./.tools \
			--exclude=./.git -cf - . | tar -C $$src -xf -; \
	fi; \
	echo "  DEB     $(DEB_O)/ (log: $(DEB_O)/build.log)"; \
	(cd $$src && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS \
		dpkg-buildpackage -us -uc -b) >$(DEB_O)/build.log 2>&1 || \
		{ tail -n 30 $(DEB_O)/build.log; exit 1; }; \
	ls $(DEB_O)/*.deb
