package images

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/diff"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// layerApplier unpacks untrusted layer tarballs into snapshots. Paths are
// resolved inside the snapshot by containerd's archive package (no "../",
// absolute path or symlink leads out of it); on top of that, device nodes
// are dropped unless the site allows them: an image has no business
// shipping a node for a host disk, even one the device cgroup would deny.
type layerApplier struct {
	cs           content.Provider
	allowDevices bool
}

// Apply decompresses the layer, applies it to the snapshot's mounts and
// returns the uncompressed layer's descriptor (its digest is checked
// against the image's diff ID by the caller).
func (a layerApplier) Apply(ctx context.Context, desc ocispec.Descriptor, mounts []mount.Mount, _ ...diff.ApplyOpt) (ocispec.Descriptor, error) {
	ra, err := a.cs.ReaderAt(ctx, desc)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	defer ra.Close()
	ds, err := compression.DecompressStream(content.NewReader(ra))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	defer ds.Close()
	digester := digest.Canonical.Digester()
	counted := &countingReader{r: io.TeeReader(ds, digester.Hash())}
	if err := applyTar(ctx, mounts, counted, a.allowDevices); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	if _, err := io.Copy(io.Discard, counted); err != nil { // trailing padding counts in the digest
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Size: counted.n, Digest: digester.Digest()}, nil
}

// applyTar writes the tar stream into the snapshot: straight into the
// overlay upper directory (whiteouts converted) when the snapshot is one
// overlay mount, else through a temporary mount.
func applyTar(ctx context.Context, mounts []mount.Mount, r io.Reader, allowDevices bool) error {
	opts := []archive.ApplyOpt{archive.WithFilter(layerFilter(allowDevices))}
	if len(mounts) == 1 && mounts[0].Type == "overlay" {
		if upper, lower := overlayDirs(mounts[0].Options); upper != "" {
			opts = append(opts, archive.WithConvertWhiteout(archive.OverlayConvertWhiteout))
			if len(lower) > 0 {
				opts = append(opts, archive.WithParents(lower))
			}
			_, err := archive.Apply(ctx, upper, r, opts...)
			return err
		}
	}
	return mount.WithTempMount(ctx, mounts, func(root string) error {
		_, err := archive.Apply(ctx, root, r, opts...)
		return err
	})
}

// layerFilter keeps every entry but character and block devices (unless
// allowed).
func layerFilter(allowDevices bool) archive.Filter {
	return func(h *tar.Header) (bool, error) {
		if !allowDevices && (h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock) {
			return false, nil
		}
		return true, nil
	}
}

func overlayDirs(options []string) (upper string, lower []string) {
	for _, o := range options {
		if v, ok := strings.CutPrefix(o, "upperdir="); ok {
			upper = v
		} else if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			lower = strings.Split(v, ":")
		}
	}
	return upper, lower
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
