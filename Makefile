# dockless — the targets a newcomer can guess.
# Everything runs as root on Debian: `make demo` and `make test` install the
# packages they need first.

GO      ?= go
TAGS    ?= seccomp urfave_cli_no_docs
BIN     ?= bin/dockless
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOFLAGS_BUILD = -tags '$(TAGS)' -ldflags '-X main.version=$(VERSION)'
INIT_CFLAGS   = -static -Os -s -Wall -Wextra -Werror

# Debian packages the build, the tests and the demo need (bats, jq and
# gawk: runc's own integration suite, which CI runs part of; openmpi-bin
# and libopenmpi-dev: the MPI image of the two-host Open MPI test; git:
# BuildKit's git contexts; openssh-server: the sshd on 127.0.0.1 of the test
# of git contexts over SSH, with ssh and ssh-agent, BuildKit's ssh).
DEPS = busybox-static libseccomp-dev pkg-config gcc runc util-linux containerd bats jq gawk openmpi-bin libopenmpi-dev git openssh-server

.PHONY: all build deps test unit vet fuzz demo bench differential conformance runc-bats install clean

all: build

# build: dockless, and beside it dockless-init, the init of --init
# containers (static and single-threaded: it runs on the image's
# filesystem, inside the container's pids limit); dockless-build (BuildKit)
# and dockless-cdi (NVIDIA's CDI generator), never linked into the setuid
# dockless, where dockless finds them: ../libexec/dockless/ from its
# directory.
HELPER = $(dir $(BIN))../libexec/dockless/dockless-build
CDI_HELPER = $(dir $(BIN))../libexec/dockless/dockless-cdi
# dockless-runinit: libcontainer's init of job containers without the rest
# of dockless (runtime/initexec says why).
INIT_HELPER = $(dir $(BIN))../libexec/dockless/dockless-runinit
# dockless-build-runc: what BuildKit runs RUN steps with, in front of the
# policy's [build] runtime (main.c says why; C, static, as dockless-init:
# it runs twice per step).
STEP_HELPER = $(dir $(BIN))../libexec/dockless/dockless-build-runc
build:
	CGO_ENABLED=1 $(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/dockless
	$(CC) $(INIT_CFLAGS) -o $(dir $(BIN))dockless-init cmd/dockless-init/init.c cmd/dockless-init/loader.c
	CGO_ENABLED=1 $(GO) build $(GOFLAGS_BUILD) -o $(HELPER) ./cmd/dockless-build
	CGO_ENABLED=1 $(GO) build $(GOFLAGS_BUILD) -o $(CDI_HELPER) ./cmd/dockless-cdi
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(INIT_HELPER) ./cmd/dockless-runinit
	$(CC) $(INIT_CFLAGS) -o $(STEP_HELPER) cmd/dockless-build-runc/main.c

# deps installs the Debian packages that are missing (apt-get update once).
# openssh-server, where it installs it, is for the tests' own sshd: the
# system's service its package starts (under systemd) is stopped and
# disabled again, leaving the node as it was (and 127.0.0.1:22 free).
deps:
	@missing=""; for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing || exit 1; \
		case " $$missing " in *" openssh-server "*) \
			systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true;; esac; \
	fi

vet:
	@test -z "$$(gofmt -l $$($(GO) list -f {{.Dir}} ./...))" || { gofmt -l $$($(GO) list -f {{.Dir}} ./...); echo "gofmt needed"; exit 1; }
	$(GO) vet -tags '$(TAGS)' ./...

# test: every test, as root (the end-to-end tests run real containers).
test: deps vet
	CGO_ENABLED=1 $(GO) test -tags '$(TAGS)' -count=1 -timeout 30m ./...

# unit: the tests that need neither root nor the network.
unit:
	$(GO) test -tags '$(TAGS)' -count=1 -short ./...

# fuzz: each fuzz target for FUZZTIME (untrusted input: env files, flag
# values, image configs, layer tarballs).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -tags '$(TAGS)' -short -run XXX -fuzz FuzzParseEnvFile -fuzztime $(FUZZTIME) ./spec
	$(GO) test -tags '$(TAGS)' -short -run XXX -fuzz FuzzBuild_ImageConfig -fuzztime $(FUZZTIME) ./spec
	$(GO) test -tags '$(TAGS)' -short -run XXX -fuzz FuzzDockerValues -fuzztime $(FUZZTIME) ./spec
	$(GO) test -tags '$(TAGS)' -short -run XXX -fuzz FuzzLSFValues -fuzztime $(FUZZTIME) ./lsf
	$(GO) test -tags '$(TAGS)' -short -run XXX -fuzz FuzzParseVisibleDevices -fuzztime $(FUZZTIME) ./lsf
	$(GO) test -tags '$(TAGS)' -short -run XXX -fuzz FuzzLayerPaths -fuzztime $(FUZZTIME) ./images
	$(GO) test -tags '$(TAGS)' -short -run XXX -fuzz FuzzLinkNames -fuzztime $(FUZZTIME) ./images
	$(GO) test -tags '$(TAGS)' -short -run XXX -fuzz FuzzShim_ProfileEdit -fuzztime $(FUZZTIME) ./cmd/dockless-build

demo: deps build
	hack/demo.sh $(BIN)

# bench also compares dockless-runc with a runc built from the module
# cache's runc (the libcontainer dockless embeds), when it builds offline.
RUNC_MOD = bin/runc-mod
bench: deps build
	@$(MAKE) -s $(RUNC_MOD) || echo "bench: no runc from the module cache, its comparison is skipped"
	$(GO) run ./hack/bench -dockless $(BIN) $$(test -x $(RUNC_MOD) && echo -runc153 $(RUNC_MOD))

$(RUNC_MOD):
	@dir=$$($(GO) list -m -f '{{.Dir}}' github.com/opencontainers/runc) && tmp=$$(mktemp -d) && \
	cp -r $$dir/. $$tmp && chmod -R u+w $$tmp && \
	(cd $$tmp && GOPROXY=off GOFLAGS=-mod=mod CGO_ENABLED=1 $(GO) build -tags seccomp -o $(CURDIR)/$(RUNC_MOD) .); \
	rc=$$?; rm -rf $$tmp; exit $$rc

# install: the binary setuid root (dockless acts for the user who runs it;
# see docs/LSF.md), dockless-init beside it (not set-id), and the policy
# template, never over an existing policy.
# conformance: the OCI runtime-tools validation suite and runc's own
# integration suite (all its bats files), against dockless-runc and the runc
# built from the runc module dockless embeds (from the Go module cache; the
# test images from this host), side by side, into docs/CONFORMANCE.md. It
# fails if a test runc passes here fails with dockless-runc.
conformance: deps build
	hack/conformance.sh $(BIN) > docs/CONFORMANCE.md.tmp
	echo >> docs/CONFORMANCE.md.tmp
	$(GO) run ./hack/runcbats -full $(BIN) >> docs/CONFORMANCE.md.tmp; status=$$?; \
	echo >> docs/CONFORMANCE.md.tmp; cat docs/CONFORMANCE-NOTES.md >> docs/CONFORMANCE.md.tmp; \
	mv docs/CONFORMANCE.md.tmp docs/CONFORMANCE.md; cat docs/CONFORMANCE.md; exit $$status

# runc-bats: the bats files of runc's own suite that issue 18's differences
# came from (RUNC_BATS_FILES), against dockless-runc and the reference runc
# (built from the module cache), side by side; it fails if a test runc
# passes here fails with dockless-runc. About ten minutes here.
RUNC_BATS_FILES ?= update exec debug capabilities run pidfd-socket mounts_sshfs seccomp list help delete \
	create cpu_affinity version tty start_hello start_detached scheduler no_pivot kill ioprio
runc-bats: deps build
	$(GO) run ./hack/runcbats -full $(BIN) $(RUNC_BATS_FILES)

# differential: the seed's job container through a real dockerd and through
# dockless, field by field, then the table of docker run scenarios through
# both (docs/COMPATIBILITY.md explains what differs; a difference it does
# not explain fails). DOCKER is the client (docker's ≥ 23 resolve relative
# bind sources, as dockless).
DOCKER ?= /usr/bin/docker
differential: deps build
	@command -v dockerd >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io; }
	$(GO) run ./hack/dockerdiff -dockless $(BIN) -docker $(DOCKER)

install: build
	install -D -m 4755 -o root -g root $(BIN) $(DESTDIR)$(PREFIX)/bin/dockless
	install -D -m 0755 -o root -g root $(dir $(BIN))dockless-init $(DESTDIR)$(PREFIX)/bin/dockless-init
	ln -sf dockless $(DESTDIR)$(PREFIX)/bin/dockless-runc
	install -D -m 0755 -o root -g root $(HELPER) $(DESTDIR)$(PREFIX)/libexec/dockless/dockless-build
	install -D -m 0755 -o root -g root $(CDI_HELPER) $(DESTDIR)$(PREFIX)/libexec/dockless/dockless-cdi
	install -D -m 0755 -o root -g root $(INIT_HELPER) $(DESTDIR)$(PREFIX)/libexec/dockless/dockless-runinit
	install -D -m 0755 -o root -g root $(STEP_HELPER) $(DESTDIR)$(PREFIX)/libexec/dockless/dockless-build-runc
	@if [ -e $(DESTDIR)/etc/dockless/dockless.toml ]; then \
		install -D -m 0644 -o root -g root docs/dockless.toml $(DESTDIR)/etc/dockless/dockless.toml.example; \
		echo "kept /etc/dockless/dockless.toml; the template is dockless.toml.example"; \
	else \
		install -D -m 0644 -o root -g root docs/dockless.toml $(DESTDIR)/etc/dockless/dockless.toml; \
	fi

clean:
	rm -rf bin libexec
