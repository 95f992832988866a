# SPDX-License-Identifier: MIT
#
# The entry point for everything beyond the README's two set-up commands:
# build, install, release archives, the Debian package. `make help` lists the
# targets. The version is read from its one source, ptyproxy_version.h.

PREFIX ?= /usr/local
DESTDIR ?=
# Where `make dist` takes the Windows program from. Left at its default, it is
# built first with `make -C windows`; set it to use a ptyproxy.exe built elsewhere.
DEFAULT_WINDOWS_EXE := windows/build/ptyproxy.exe
WINDOWS_EXE ?= $(DEFAULT_WINDOWS_EXE)

SHELL := /bin/bash
VERSION_HEADER := Sources/CPTYShim/include/ptyproxy_version.h
VERSION := $(shell sed -n 's/^\#define PTYPROXY_VERSION "\([^"]*\)"$$/\1/p' $(VERSION_HEADER))
ifeq ($(VERSION),)
$(error cannot read PTYPROXY_VERSION from $(VERSION_HEADER))
endif

# Every timestamp in the archives and the package: the last commit's time,
# unless the caller sets SOURCE_DATE_EPOCH (https://reproducible-builds.org).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
export SOURCE_DATE_EPOCH
export TZ := UTC
export LC_ALL := C

# The README's build, exactly: a fully static release executable. Its link
# prints glibc's warning that "Using 'dlopen' in statically linked
# applications requires at runtime the shared libraries from the glibc
# version used for linking". It is harmless here: the one dlopen is in the
# Swift runtime (libswiftCore.a, LibPrespecialized.cpp), reached only when
# the debugging variable SWIFT_DEBUG_LIB_PRESPECIALIZED_PATH is set, and then
# only to find a library already loaded (RTLD_NOLOAD), which a static binary
# never has: it finds none, says so on stderr and goes on. ptyproxy itself
# loads nothing.
SWIFT_BUILD := swift build -c release -Xswiftc -static-executable
# Plus what makes two builds give the same bytes (measured: without these, two
# clean builds of the same commit differ, in the same directory and more so in
# two directories):
# - -gnone: the debug info names the Clang module cache by a hashed,
#   path-dependent directory and records each module's signature, which
#   depends on the modification time of the module map SwiftPM regenerates on
#   every clean build. The archives and the package ship a stripped binary, so
#   this debug info never reached users anyway.
# - -fno-pch-timestamp: the same signature, for what is left of it.
# - -disable-incremental-llvm-codegen: otherwise every object carries a
#   .swift_modhash section, an MD5 of its LLVM module, which includes the
#   absolute path of the source file; the linker keeps it.
# - the prefix maps: any path left in the output is relative to the checkout.
REPRODUCIBLE_FLAGS := -Xswiftc -gnone -Xcc -Xclang -Xcc -fno-pch-timestamp \
    -Xswiftc -Xfrontend -Xswiftc -disable-incremental-llvm-codegen \
    -Xswiftc -file-prefix-map -Xswiftc $(CURDIR)=. -Xcc -ffile-prefix-map=$(CURDIR)=.
# Start-up is part of every `ptyproxy new` (BENCHMARKS.md, "Start-up: where
# the time goes"): metadata known at compile time is reached through direct
# accessors, not looked up by its mangled name on first use (5% of a run).
# Here rather than in Package.swift, so that the library stays usable as a
# dependency (see there); Benchmarks/bench_setup.py asks `make startup-flags`.
STARTUP_FLAGS := -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors
BINARY := .build/release/ptyproxy

STAGE := .build/stage
DIST := dist
LINUX_NAME := ptyproxy-$(VERSION)-linux-x86_64
WINDOWS_NAME := ptyproxy-$(VERSION)-windows-x86_64
DEB_NAME := ptyproxy_$(VERSION)_amd64
EMACS_FILES := $(sort $(wildcard emacs/*.el))

# Installed files, relative to $(DESTDIR)$(PREFIX). Kept in one list so that
# install and uninstall cannot disagree.
BIN_FILE := bin/ptyproxy
MAN_FILE := share/man/man1/ptyproxy.1
BASH_FILE := share/bash-completion/completions/ptyproxy
ZSH_FILE := share/zsh/site-functions/_ptyproxy
FISH_FILE := share/fish/vendor_completions.d/ptyproxy.fish
EMACS_DIR := share/emacs/site-lisp/ptyproxy
DOC_DIR := share/doc/ptyproxy
INSTALL_BINARY ?= $(BINARY)
# install strips the installed binary (as the archives and the package ship
# it: 7.4 MB instead of 10.7); `make install STRIP=` installs it as built.
STRIP ?= strip

.DEFAULT_GOAL := build

help: ## list the targets
	@sed -n 's/^\([a-z-]*\):.*## \(.*\)$$/\1\t\2/p' $(MAKEFILE_LIST) | expand -t 12

build: ## the static release build (the README's command, with start-up and reproducibility flags)
	$(SWIFT_BUILD) $(STARTUP_FLAGS) $(REPRODUCIBLE_FLAGS)

# install needs a binary but does not rebuild one that exists, so that
# `make && sudo make install` builds as you, not as root.
$(BINARY):
	$(MAKE) build

# Not listed by help: the benchmarks' build reads the flags from here.
startup-flags:
	@echo $(STARTUP_FLAGS)

version: ## print the version (from ptyproxy_version.h)
	@echo $(VERSION)

install: $(INSTALL_BINARY) ## install into DESTDIR + PREFIX (default /usr/local), stripped unless STRIP= ; make uninstall removes it
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	    $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d $(DESTDIR)$(PREFIX)/$(EMACS_DIR) $(DESTDIR)$(PREFIX)/$(DOC_DIR)
	install -m 755 $(INSTALL_BINARY) $(DESTDIR)$(PREFIX)/$(BIN_FILE)
	$(if $(STRIP),$(STRIP) $(DESTDIR)$(PREFIX)/$(BIN_FILE))
	install -m 644 docs/ptyproxy.1 $(DESTDIR)$(PREFIX)/$(MAN_FILE)
	install -m 644 completions/ptyproxy.bash $(DESTDIR)$(PREFIX)/$(BASH_FILE)
	install -m 644 completions/_ptyproxy $(DESTDIR)$(PREFIX)/$(ZSH_FILE)
	install -m 644 completions/ptyproxy.fish $(DESTDIR)$(PREFIX)/$(FISH_FILE)
	install -m 644 $(EMACS_FILES) $(DESTDIR)$(PREFIX)/$(EMACS_DIR)/
	install -m 644 README.md LICENSE $(DESTDIR)$(PREFIX)/$(DOC_DIR)/

uninstall: ## remove what make install installed
	rm -f $(DESTDIR)$(PREFIX)/$(BIN_FILE) $(DESTDIR)$(PREFIX)/$(MAN_FILE) $(DESTDIR)$(PREFIX)/$(BASH_FILE) \
	    $(DESTDIR)$(PREFIX)/$(ZSH_FILE) $(DESTDIR)$(PREFIX)/$(FISH_FILE)
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/$(EMACS_DIR)/,$(notdir $(EMACS_FILES)))
	rm -f $(DESTDIR)$(PREFIX)/$(DOC_DIR)/README.md $(DESTDIR)$(PREFIX)/$(DOC_DIR)/LICENSE
	-rmdir $(DESTDIR)$(PREFIX)/$(EMACS_DIR) $(DESTDIR)$(PREFIX)/$(DOC_DIR) 2>/dev/null

windows: ## build the Windows program (make -C windows)
	$(MAKE) -C windows

# The Windows program for the zip: built here unless WINDOWS_EXE names another.
# Always relinked (-B), so that it carries SOURCE_DATE_EPOCH (exported above;
# GNU ld writes it as the PE timestamp) rather than the time of an earlier build.
windows-exe:
	@if [ "$(WINDOWS_EXE)" = "$(DEFAULT_WINDOWS_EXE)" ] && ! command -v x86_64-w64-mingw32-gcc >/dev/null; then \
	    echo "ptyproxy: make dist builds the Windows program with mingw-w64 (Debian: gcc-mingw-w64-x86-64); or set WINDOWS_EXE" >&2; \
	    exit 1; \
	fi
	$(if $(filter $(DEFAULT_WINDOWS_EXE),$(WINDOWS_EXE)),$(MAKE) -C windows -B build/ptyproxy.exe)
	@test -f $(WINDOWS_EXE) || { echo "ptyproxy: no Windows program at $(WINDOWS_EXE)" >&2; exit 1; }

# Sets every staged file's mode and time, so that archives do not depend on
# the umask or on when the files were copied.
define normalize
	find $(1) -type d -exec chmod 755 {} +
	find $(1) -type f -exec chmod 644 {} +
	$(if $(2),chmod 755 $(2))
	find $(1) -exec touch -h -d @$(SOURCE_DATE_EPOCH) {} +
endef

check-epoch:
	@test -n "$(SOURCE_DATE_EPOCH)" || { echo "ptyproxy: SOURCE_DATE_EPOCH unknown (no git?): set it" >&2; exit 1; }

dist: check-epoch build windows-exe ## release archives and SHA256SUMS in dist/ (reproducible; needs mingw-w64)
	rm -rf $(STAGE)/dist && mkdir -p $(STAGE)/dist $(DIST)
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE)/dist/$(LINUX_NAME) PREFIX= INSTALL_BINARY=$(BINARY) STRIP=strip
	mv $(STAGE)/dist/$(LINUX_NAME)/$(DOC_DIR)/README.md $(STAGE)/dist/$(LINUX_NAME)/$(DOC_DIR)/LICENSE $(STAGE)/dist/$(LINUX_NAME)/
	rmdir $(STAGE)/dist/$(LINUX_NAME)/$(DOC_DIR) $(STAGE)/dist/$(LINUX_NAME)/share/doc
	$(call normalize,$(STAGE)/dist/$(LINUX_NAME),$(STAGE)/dist/$(LINUX_NAME)/$(BIN_FILE))
	tar -C $(STAGE)/dist --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$(SOURCE_DATE_EPOCH) \
	    --format=gnu -cf - $(LINUX_NAME) | gzip -9n > $(DIST)/$(LINUX_NAME).tar.gz
	mkdir -p $(STAGE)/dist/$(WINDOWS_NAME)/emacs
	cp $(WINDOWS_EXE) $(STAGE)/dist/$(WINDOWS_NAME)/ptyproxy.exe
	cp $(EMACS_FILES) $(STAGE)/dist/$(WINDOWS_NAME)/emacs/
	sed 's/$$/\r/' packaging/README-windows.txt > $(STAGE)/dist/$(WINDOWS_NAME)/README.txt
	sed 's/$$/\r/' docs/INTERFACE.md > $(STAGE)/dist/$(WINDOWS_NAME)/INTERFACE.md
	sed 's/$$/\r/' LICENSE > $(STAGE)/dist/$(WINDOWS_NAME)/LICENSE.txt
	$(call normalize,$(STAGE)/dist/$(WINDOWS_NAME),$(STAGE)/dist/$(WINDOWS_NAME)/ptyproxy.exe)
	rm -f $(DIST)/$(WINDOWS_NAME).zip
	cd $(STAGE)/dist && find $(WINDOWS_NAME) -type f | sort | zip -X -D -9 -q $(CURDIR)/$(DIST)/$(WINDOWS_NAME).zip -@
	cd $(DIST) && sha256sum $(LINUX_NAME).tar.gz $(WINDOWS_NAME).zip > SHA256SUMS
	@cat $(DIST)/SHA256SUMS

deb: check-epoch build ## the Debian package dist/ptyproxy_VERSION_amd64.deb (dpkg-deb)
	rm -rf $(STAGE)/deb && mkdir -p $(STAGE)/deb/DEBIAN $(DIST)
	install -D -m 755 $(BINARY) $(STAGE)/deb/usr/bin/ptyproxy
	strip --remove-section=.comment $(STAGE)/deb/usr/bin/ptyproxy
	install -d $(STAGE)/deb/usr/share/man/man1
	gzip -9n < docs/ptyproxy.1 > $(STAGE)/deb/usr/share/man/man1/ptyproxy.1.gz
	install -D -m 644 completions/ptyproxy.bash $(STAGE)/deb/usr/share/bash-completion/completions/ptyproxy
	install -D -m 644 completions/_ptyproxy $(STAGE)/deb/usr/share/zsh/vendor-completions/_ptyproxy
	install -D -m 644 completions/ptyproxy.fish $(STAGE)/deb/usr/share/fish/vendor_completions.d/ptyproxy.fish
	install -d $(STAGE)/deb/usr/share/emacs/site-lisp/ptyproxy
	install -m 644 $(EMACS_FILES) $(STAGE)/deb/usr/share/emacs/site-lisp/ptyproxy/
	install -D -m 644 packaging/debian/copyright $(STAGE)/deb/usr/share/doc/ptyproxy/copyright
	install -m 644 README.md $(STAGE)/deb/usr/share/doc/ptyproxy/README.md
	gzip -9n < packaging/debian/changelog > $(STAGE)/deb/usr/share/doc/ptyproxy/changelog.gz
	install -D -m 644 packaging/debian/lintian-overrides $(STAGE)/deb/usr/share/lintian/overrides/ptyproxy
	$(call normalize,$(STAGE)/deb/usr,$(STAGE)/deb/usr/bin/ptyproxy)
	cd $(STAGE)/deb && find usr -type f | sort | xargs md5sum > DEBIAN/md5sums
	sed -e '/^#/d' -e 's/@VERSION@/$(VERSION)/' \
	    -e "s/@INSTALLED_SIZE@/$$(du -sk --apparent-size $(STAGE)/deb/usr | cut -f1)/" \
	    -e "s/@GLIBC@/$$(dpkg-query -W -f='$${source:Package} (= $${source:Version})' libc6-dev)/" \
	    packaging/debian/control > $(STAGE)/deb/DEBIAN/control
	$(call normalize,$(STAGE)/deb/DEBIAN)
	dpkg-deb --root-owner-group -Zxz --build $(STAGE)/deb $(DIST)/$(DEB_NAME).deb

clean: ## remove the release build's staging area and dist/
	rm -rf $(STAGE) $(DIST)

.PHONY: help build version startup-flags install uninstall windows windows-exe check-epoch dist deb clean
