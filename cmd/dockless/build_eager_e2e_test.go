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
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// eagerDockerfile has a builder stage whose layers the image does not
// keep (its RUN writes random bytes, so its layer's blob is unlike any
// other), and a final stage whose first layer is the context's busybox.
const eagerDockerfile = `FROM scratch AS builder
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox head -c 100000 /dev/urandom > /big"]
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "mkdir", "/app"]
COPY --from=builder /big /app/big
RUN ["/bin/busybox", "test", "-s", "/app/big"]
`

// TestBuild_LayersCompressedEarlyAreTheExportsOwn: the layers dockless
// compresses while the build runs (build/kit/eager.go) are the blobs the
// export would make itself, gzip at its default level (each is that
// gzip of its own tar, byte for byte), and a builder stage's layers,
// which the image drops, are not compressed at all: the build state
// holds no gzip blob the image lacks (beside the image's blobs it holds
// BuildKit's record of the build).
func TestBuild_LayersCompressedEarlyAreTheExportsOwn(t *testing.T) {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	ctx := userDir(t, filepath.Join(openTempDir(t), "ctx"), alice, 0o755)
	for name, body := range map[string]string{"busybox": string(bb), "Dockerfile": eagerDockerfile} {
		p := filepath.Join(ctx, name)
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	out := userDir(t, filepath.Join(openTempDir(t), "out"), alice, 0o755)
	image := filepath.Join(out, "image.tar")
	e := buildEnv(t, "")
	if r := e.runAs(alice, ctx, nil, "build", "-q", "-o", "type=oci,dest="+image, "."); r.code != 0 {
		t.Fatalf("build: %s", r)
	}
	entries := tarEntries(t, image)
	m := ociManifest(t, entries)
	if len(m.Layers) != 4 {
		t.Fatalf("%d layers, want 4", len(m.Layers))
	}
	for _, l := range m.Layers {
		blob := entries["blobs/sha256/"+l.Digest.Encoded()]
		zr, err := gzip.NewReader(bytes.NewReader(blob))
		if err != nil {
			t.Fatalf("layer %s: %v", l.Digest, err)
		}
		layer, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		var again bytes.Buffer
		zw := gzip.NewWriter(&again)
		if _, err := zw.Write(layer); err != nil || zw.Close() != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Bytes(), blob) {
			t.Errorf("layer %s is not its tar gzipped at the default level, as the export makes it", l.Digest)
		}
	}
	store := filepath.Join(e.root+"-build", fmt.Sprint(alice.UID), "runc-overlayfs", "content", "blobs", "sha256")
	kept, err := os.ReadDir(store)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kept {
		if entries["blobs/sha256/"+k.Name()] != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(store, k.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
			t.Errorf("the build state holds layer %s, which the image does not: a dropped stage's layer was compressed", k.Name())
		}
	}
}

// ociManifest is the one manifest of an OCI tar's entries.
func ociManifest(t *testing.T, entries map[string][]byte) ocispec.Manifest {
	t.Helper()
	var idx ocispec.Index
	if err := json.Unmarshal(entries["index.json"], &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, entries["index.json"])
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(entries["blobs/sha256/"+idx.Manifests[0].Digest.Encoded()], &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// tarEntries are the files of a tar, by name.
func tarEntries(t *testing.T, file string) map[string][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		if entries[h.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
}
