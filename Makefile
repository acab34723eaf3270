# dockless — the targets a newcomer can guess.
# Everything runs as root on Debian: `make demo` and `make test` install the
# packages they need first.

GO      ?= go
TAGS    ?= seccomp
BIN     ?= bin/dockless
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GOFLAGS_BUILD = -tags '$(TAGS)' -ldflags '-X main.version=$(VERSION)'

# Debian packages the build, the tests and the demo need (bats, jq and
# gawk: runc's own integration suite, which CI runs part of).
DEPS = busybox-static libseccomp-dev pkg-config gcc runc util-linux containerd bats jq gawk

.PHONY: all build deps test unit vet fuzz demo bench differential conformance install clean

all: build

build:
	CGO_ENABLED=1 $(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/dockless

# deps installs the Debian packages that are missing (apt-get update once).
deps:
	@missing=""; for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

vet:
	@test -z "$$(gofmt -l cmd spec runtime images hack policy lsf container)" || { gofmt -l cmd spec runtime images hack policy lsf container; echo "gofmt needed"; exit 1; }
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
	$(GO) test -tags '$(TAGS)' -short -run XXX -fuzz FuzzLayerPaths -fuzztime $(FUZZTIME) ./images

demo: deps build
	hack/demo.sh $(BIN)

bench: deps build
	$(GO) run ./hack/bench -dockless $(BIN)

# install: the binary setuid root (dockless acts for the user who runs it;
# see docs/LSF.md) and the policy template, never over an existing policy.
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

# differential: the seed's job container through a real dockerd and through
# dockless, field by field (docs/COMPATIBILITY.md explains what differs).
differential: deps build
	@command -v dockerd >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io; }
	$(GO) run ./hack/dockerdiff -dockless $(BIN)

install: build
	install -D -m 4755 -o root -g root $(BIN) $(DESTDIR)$(PREFIX)/bin/dockless
	ln -sf dockless $(DESTDIR)$(PREFIX)/bin/dockless-runc
	@if [ -e $(DESTDIR)/etc/dockless/dockless.toml ]; then \
		install -D -m 0644 -o root -g root docs/dockless.toml $(DESTDIR)/etc/dockless/dockless.toml.example; \
		echo "kept /etc/dockless/dockless.toml; the template is dockless.toml.example"; \
	else \
		install -D -m 0644 -o root -g root docs/dockless.toml $(DESTDIR)/etc/dockless/dockless.toml; \
	fi

clean:
	rm -rf bin
