# fetchd: build, install, test.
#
#   make                  build ./fetchd (static, its version from git describe)
#   make install          install under PREFIX (default /usr/local); DESTDIR stages
#   make uninstall        remove what install installed
#   make test             scripts/test.sh, what CI runs (installs Debian packages as root)
#   make deb              scripts/package.sh: build a .deb into dist/ and check it
#   make docs             regenerate the man pages and completion scripts
#
# install puts the binary, the man pages fetchd(1) and fetchd.toml(5), the
# systemd units (their ExecStart= pointing at BINDIR), the sysusers.d file,
# the bash and zsh completions and config.example.toml in place. It writes
# nothing under /etc: copy the example to /etc/fetchd/config.toml or
# ~/.config/fetchd/config.toml yourself (see the README).

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/fetchd
UNITDIR     ?= $(PREFIX)/lib/systemd/system
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
DESTDIR     ?=

GO      ?= go
BIN     ?= fetchd
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
# Static by default: no libc needed, one binary for every distribution.
# CGO_ENABLED=1 makes run_as look users up through NSS (LDAP, sssd) rather
# than /etc/passwd alone.
CGO_ENABLED ?= 0
export CGO_ENABLED

SOURCES := $(shell find cmd internal -name '*.go' ! -name '*_test.go') go.mod go.sum

INSTALL ?= install
# The units name /usr/local/bin/fetchd; installed, they name BINDIR's.
UNIT_SED = sed 's|/usr/local/bin/fetchd|$(BINDIR)/fetchd|g'

.PHONY: all install uninstall test deb docs clean

all: $(BIN)

$(BIN): $(SOURCES)
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN) ./cmd/fetchd

install: $(BIN)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(USERUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 755 $(BIN) $(DESTDIR)$(BINDIR)/fetchd
	$(INSTALL) -m 644 docs/man/fetchd.1 $(DESTDIR)$(MANDIR)/man1/fetchd.1
	$(INSTALL) -m 644 docs/man/fetchd.toml.5 $(DESTDIR)$(MANDIR)/man5/fetchd.toml.5
	$(UNIT_SED) contrib/systemd/fetchd.service > $(DESTDIR)$(UNITDIR)/fetchd.service
	$(UNIT_SED) contrib/systemd/fetchd@.service > $(DESTDIR)$(UNITDIR)/fetchd@.service
	$(UNIT_SED) contrib/systemd/user/fetchd.service > $(DESTDIR)$(USERUNITDIR)/fetchd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/fetchd.service $(DESTDIR)$(UNITDIR)/fetchd@.service \
		$(DESTDIR)$(USERUNITDIR)/fetchd.service
	$(INSTALL) -m 644 contrib/systemd/fetchd.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/fetchd.conf
	$(INSTALL) -m 644 contrib/completion/fetchd.bash $(DESTDIR)$(BASHCOMPDIR)/fetchd
	$(INSTALL) -m 644 contrib/completion/_fetchd $(DESTDIR)$(ZSHCOMPDIR)/_fetchd
	$(INSTALL) -m 644 config.example.toml $(DESTDIR)$(DOCDIR)/config.example.toml
	$(INSTALL) -m 644 README.md $(DESTDIR)$(DOCDIR)/README.md
	$(INSTALL) -m 644 contrib/systemd/README.md $(DESTDIR)$(DOCDIR)/README.systemd.md

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/fetchd \
		$(DESTDIR)$(MANDIR)/man1/fetchd.1 $(DESTDIR)$(MANDIR)/man5/fetchd.toml.5 \
		$(DESTDIR)$(UNITDIR)/fetchd.service $(DESTDIR)$(UNITDIR)/fetchd@.service \
		$(DESTDIR)$(USERUNITDIR)/fetchd.service $(DESTDIR)$(SYSUSERSDIR)/fetchd.conf \
		$(DESTDIR)$(BASHCOMPDIR)/fetchd $(DESTDIR)$(ZSHCOMPDIR)/_fetchd \
		$(DESTDIR)$(DOCDIR)/config.example.toml $(DESTDIR)$(DOCDIR)/README.md \
		$(DESTDIR)$(DOCDIR)/README.systemd.md
	-rmdir $(DESTDIR)$(DOCDIR)

test:
	./scripts/test.sh

deb:
	./scripts/package.sh dist

docs:
	$(GO) generate ./cmd/fetchd

clean:
	rm -f $(BIN)
	rm -rf dist
