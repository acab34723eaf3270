package images

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestVerified_ServesCheckedBlobsOnlyIntact: a manifest or config of the
// store is served only while its bytes match its digest (a truncated or
// changed copy is ErrCorrupt, naming dockless image rm); a layer passes
// through, to be checked as it is unpacked; the layer check says which
// layer of the store is corrupt, and leaves other failures as they are.
func TestVerified_ServesCheckedBlobsOnlyIntact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cs, err := local.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	put := func(mediaType, data string) ocispec.Descriptor {
		desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromString(data), Size: int64(len(data))}
		if err := content.WriteBlob(ctx, cs, desc.Digest.String(), bytes.NewReader([]byte(data)), desc); err != nil {
			t.Fatal(err)
		}
		return desc
	}
	damage := func(desc ocispec.Descriptor, fn func([]byte) []byte) {
		path := blobPath(dir, desc.Digest)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, fn(b), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	truncate := func(b []byte) []byte { return b[:len(b)/2] }
	flip := func(b []byte) []byte { b[len(b)/2] ^= 0x20; return b }
	for _, c := range []struct {
		name, mediaType string
		damage          func([]byte) []byte
		wantCorrupt     bool
	}{
		{"an intact config", ocispec.MediaTypeImageConfig, nil, false},
		{"a truncated config", ocispec.MediaTypeImageConfig, truncate, true},
		{"a config with a byte flipped", ocispec.MediaTypeImageConfig, flip, true},
		{"a manifest with a byte flipped", ocispec.MediaTypeImageManifest, flip, true},
		{"a layer with a byte flipped", ocispec.MediaTypeImageLayerGzip, flip, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := `{"config":{"Env":["MARK=intact"]},"name":"` + c.name + `"}`
			desc := put(c.mediaType, data)
			if c.damage != nil {
				damage(desc, c.damage)
			}
			got, err := content.ReadBlob(ctx, verified{cs}, desc)
			switch {
			case c.wantCorrupt && (!errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte("dockless image rm"))):
				t.Errorf("served %q, %v; want ErrCorrupt naming dockless image rm", got, err)
			case !c.wantCorrupt && err != nil:
				t.Errorf("refused: %v", err)
			case c.damage == nil && string(got) != data:
				t.Errorf("served %q, want %q", got, data)
			}
		})
	}

	intact, broken := put(ocispec.MediaTypeImageLayerGzip, "an intact layer"), put(ocispec.MediaTypeImageLayerGzip, "a layer to break")
	damage(broken, flip)
	why := errors.New("wrong diff id calculated on extraction")
	if err := corruptLayer(ctx, cs, []ocispec.Descriptor{intact, broken}, why); !errors.Is(err, ErrCorrupt) || !bytes.Contains([]byte(err.Error()), []byte(broken.Digest.String())) {
		t.Errorf("an unpacking that failed on a corrupt layer: %v, want ErrCorrupt naming %s", err, broken.Digest)
	}
	if err := corruptLayer(ctx, cs, []ocispec.Descriptor{intact}, why); err != why {
		t.Errorf("an unpacking that failed on intact layers: %v, want %v", err, why)
	}
	if intactFile(filepath.Join(dir, "none"), intact.Digest) {
		t.Error("a file that does not exist is intact")
	}
}
