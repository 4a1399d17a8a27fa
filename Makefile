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
#   make bench               benchmarks in a VM: vde against loop (ratios)
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

.PHONY: all module modules-all user deps check demo bench clean help

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
	tools/testing/vm/run --kernel $(or $(KERNEL),all) --timeout 1800 -- tools/testing/bench/plain.sh

clean:
	rm -rf build
	@$(MAKE) -C user clean

help:
	@sed -n '3,13p' Makefile | sed 's/^# \{0,1\}//'
