package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dockerImage is an image config with docker's fields that the OCI
// image spec lacks (Healthcheck, OnBuild).
type dockerImage struct {
	Config struct {
		User         string
		WorkingDir   string
		Env          []string
		Entrypoint   []string
		Cmd          []string
		Labels       map[string]string
		ExposedPorts map[string]struct{}
		StopSignal   string
		OnBuild      []string
		Healthcheck  *struct {
			Test     []string
			Interval int64
			Timeout  int64
		}
	} `json:"config"`
}

// ociImage is an image read from an OCI tar (-o type=oci): its config
// (docker's, with the fields the OCI spec lacks),
// its files (the layers applied in order, whiteouts honoured) and every
// blob, layers decompressed.
type ociImage struct {
	config dockerImage
	files  map[string]*tar.Header
	bodies map[string]string
	blobs  [][]byte
}

func readOCI(t *testing.T, file string) ociImage {
	t.Helper()
	entries := tarEntries(t, file)
	blob := func(d string) []byte { return entries["blobs/sha256/"+strings.TrimPrefix(d, "sha256:")] }
	manifest := ociManifest(t, entries)
	img := ociImage{files: map[string]*tar.Header{}, bodies: map[string]string{}}
	if err := json.Unmarshal(blob(manifest.Config.Digest.String()), &img.config); err != nil {
		t.Fatal(err)
	}
	for name, b := range entries {
		if !strings.HasPrefix(name, "blobs/") {
			continue
		}
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			if d, err := io.ReadAll(zr); err == nil {
				b = d
			}
		}
		img.blobs = append(img.blobs, b)
	}
	for _, l := range manifest.Layers {
		zr, err := gzip.NewReader(bytes.NewReader(blob(l.Digest.String())))
		if err != nil {
			t.Fatalf("layer %s: %v", l.Digest, err)
		}
		lr := tar.NewReader(zr)
		for {
			h, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := path.Clean("/" + h.Name)
			if base := path.Base(name); strings.HasPrefix(base, ".wh.") {
				delete(img.files, path.Join(path.Dir(name), strings.TrimPrefix(base, ".wh.")))
				continue
			}
			b, _ := io.ReadAll(lr)
			img.files[name], img.bodies[name] = h, string(b)
		}
	}
	return img
}

// holds says whether any blob of the image holds s.
func (img ociImage) holds(s string) bool {
	for _, b := range img.blobs {
		if bytes.Contains(b, []byte(s)) {
			return true
		}
	}
	return false
}

// matrixDockerfile uses each Dockerfile instruction and RUN and COPY
// option of the matrix; N changes the cache step's command only.
const matrixDockerfile = `FROM scratch AS tools
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN <<EOT
mkdir -p /built
echo heredoc-run > /built/heredoc
EOT
COPY <<EOT /built/inline
heredoc-copy
EOT

FROM tools
ARG GREETING=hello
ENV APP_HOME=/app GREETING_ENV=${GREETING}
WORKDIR /app
COPY --chmod=0750 data /app/data
COPY --link link /app/link
COPY --from=tools /built/ /app/built/
RUN --mount=type=bind,source=bound,target=/mnt/bound cp /mnt/bound/file /app/bound-copy
ARG N=1
RUN --mount=type=cache,target=/cache,id=matrix echo "$N" >> /cache/log && wc -l < /cache/log | tr -d ' ' > /app/cache-count
RUN pwd > /app/workdir && echo "$GREETING_ENV" > /app/env && mkdir /app/u && chown 1000:1000 /app/u
USER 1000:1000
RUN id -u > /app/u/uid
HEALTHCHECK --interval=5s --timeout=2s CMD ["/bin/true"]
ONBUILD RUN echo child
LABEL org.example.matrix=yes
EXPOSE 8080/tcp
STOPSIGNAL SIGINT
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
`

// TestBuild_InstructionMatrixInTheExportedImage: alice builds a
// Dockerfile using heredocs, RUN --mount=type=bind|cache, COPY
// --chmod/--link/--from, ARG, ENV, WORKDIR, USER, HEALTHCHECK, ONBUILD,
// LABEL, EXPOSE, STOPSIGNAL, ENTRYPOINT and CMD; each is checked in the
// OCI image it exports (files, modes, config). A second build (another
// N) reruns the cache step, which finds the first build's cache, and
// takes the steps before it from the build cache.
func TestBuild_InstructionMatrixInTheExportedImage(t *testing.T) {
	e := buildEnv(t, "")
	ctx := twoStage(t, alice)
	for name, body := range map[string]string{"Dockerfile": matrixDockerfile, "data": "data\n", "link": "link\n", "bound/file": "bound\n"} {
		p := filepath.Join(ctx, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := userDir(t, filepath.Join(openTempDir(t), "out"), alice, 0o755)
	build := func(n int) (ociImage, result) {
		t.Helper()
		tar := filepath.Join(out, fmt.Sprintf("image%d.tar", n))
		r := e.runAs(alice, ctx, nil, "build", "--progress", "plain", "--build-arg", "GREETING=matrix", "--build-arg", fmt.Sprint("N=", n), "-o", "type=oci,dest="+tar, ".")
		if r.code != 0 {
			t.Fatalf("build %d: %s", n, r)
		}
		return readOCI(t, tar), r
	}
	img, _ := build(1)
	file := func(p, want string) func() string {
		return func() string {
			if got := img.bodies[p]; got != want {
				return fmt.Sprintf("%s is %q, want %q", p, got, want)
			}
			return ""
		}
	}
	cfg := func(got, want any) func() string {
		return func() string {
			if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
				return fmt.Sprintf("config: %s, want %s", g, w)
			}
			return ""
		}
	}
	c := img.config.Config
	hc := "none"
	if c.Healthcheck != nil {
		hc = fmt.Sprint(c.Healthcheck.Test, c.Healthcheck.Interval, c.Healthcheck.Timeout)
	}
	for _, m := range []struct {
		name  string
		check func() string
	}{
		{"RUN heredoc", file("/app/built/heredoc", "heredoc-run\n")},
		{"COPY heredoc", file("/app/built/inline", "heredoc-copy\n")},
		{"COPY --from another stage", file("/built/heredoc", "heredoc-run\n")},
		{"COPY --link", file("/app/link", "link\n")},
		{"COPY --chmod", func() string {
			if h := img.files["/app/data"]; h == nil || h.Mode&0o7777 != 0o750 {
				return fmt.Sprintf("/app/data: %v, want mode 0750", h)
			}
			return ""
		}},
		{"RUN --mount=type=bind reads the context", file("/app/bound-copy", "bound\n")},
		{"RUN --mount=type=bind leaves nothing", func() string {
			if img.files["/mnt/bound/file"] != nil {
				return "/mnt/bound/file is in the image"
			}
			return ""
		}},
		{"RUN --mount=type=cache", file("/app/cache-count", "1\n")},
		{"WORKDIR", file("/app/workdir", "/app\n")},
		{"WORKDIR in the config", cfg(c.WorkingDir, "/app")},
		{"ARG and ENV", file("/app/env", "matrix\n")},
		{"ENV in the config", func() string {
			if !slices.Contains(c.Env, "APP_HOME=/app") || !slices.Contains(c.Env, "GREETING_ENV=matrix") {
				return fmt.Sprintf("Env %v", c.Env)
			}
			return ""
		}},
		{"USER runs later steps", file("/app/u/uid", "1000\n")},
		{"USER in the config", cfg(c.User, "1000:1000")},
		{"HEALTHCHECK", cfg(hc, "[CMD /bin/true] 5000000000 2000000000")},
		{"ONBUILD", cfg(c.OnBuild, []string{"RUN echo child"})},
		{"LABEL", cfg(c.Labels["org.example.matrix"], "yes")},
		{"EXPOSE", cfg(len(c.ExposedPorts) == 1 && c.ExposedPorts["8080/tcp"] == struct{}{}, true)},
		{"STOPSIGNAL", cfg(c.StopSignal, "SIGINT")},
		{"ENTRYPOINT", cfg(c.Entrypoint, []string{"/bin/sh", "-c"})},
		{"CMD", cfg(c.Cmd, []string{"echo hi"})},
	} {
		if msg := m.check(); msg != "" {
			t.Errorf("%s: %s", m.name, msg)
		}
	}

	img, r := build(2)
	if got := img.bodies["/app/cache-count"]; got != "2\n" {
		t.Errorf("the second build's cache mount holds the first's: count %q, want 2", got)
	}
	if !strings.Contains(r.stderr, "CACHED") {
		t.Errorf("the second build takes the steps before the cache step from the build cache: %s", r.stderr)
	}
}
