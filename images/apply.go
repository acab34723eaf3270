package images

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/diff"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/docker/go-units"
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
	// budget bounds what the pull's layers write (nil: no bound).
	budget *budget
	// plan is the pull's use of the shared cache (nil: none).
	plan *layerPlan
}

// Apply decompresses the layer, applies it to the snapshot's mounts and
// returns the uncompressed layer's descriptor (its digest is checked
// against the image's diff ID by the caller).
func (a layerApplier) Apply(ctx context.Context, desc ocispec.Descriptor, mounts []mount.Mount, _ ...diff.ApplyOpt) (ocispec.Descriptor, error) {
	if rec, ok := a.plan.hit(desc.Digest); ok {
		return takeCached(rec, mounts)
	}
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
	if err := applyTar(ctx, mounts, counted, a.allowDevices, a.budget); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w", desc.Digest, err)
	}
	if _, err := io.Copy(io.Discard, counted); err != nil { // trailing padding counts in the digest
		return ocispec.Descriptor{}, err
	}
	if a.plan.publishing(digester.Digest()) {
		a.plan.publish(digester.Digest(), mounts)
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Size: counted.n, Digest: digester.Digest()}, nil
}

// takeCached makes the snapshot being unpacked (its mounts) the shared
// cache's layer rec: its directory stays empty, its marker names the file.
func takeCached(rec checkedFile, mounts []mount.Mount) (ocispec.Descriptor, error) {
	dir := snapshotDir(mounts)
	if dir == "" {
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: unexpected snapshot mounts %v", rec.DiffID, mounts)
	}
	b, err := json.Marshal(rec)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, markerName), b, 0o600)
	}
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w", rec.DiffID, err)
	}
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.Digest(rec.DiffID)}, nil
}

// applyTar writes the tar stream into the snapshot: straight into the
// overlay upper directory (whiteouts converted) when the snapshot is one
// overlay mount, else through a temporary mount.
func applyTar(ctx context.Context, mounts []mount.Mount, r io.Reader, allowDevices bool, b *budget) error {
	// Lower layers from the shared cache are mounted for the while.
	if dir := snapshotDir(mounts); dir != "" {
		var undo func()
		var err error
		mounts, undo, err = withCachedLowers(mounts, dir)
		defer undo()
		if err != nil {
			return err
		}
	}
	apply := func(root string, opts ...archive.ApplyOpt) error {
		opts = append(opts, archive.WithFilter(layerFilter(allowDevices, b, root)))
		_, err := archive.Apply(ctx, root, r, opts...)
		return err
	}
	if len(mounts) == 1 && mounts[0].Type == "overlay" {
		if upper, lower := overlayDirs(mounts[0].Options); upper != "" {
			opts := []archive.ApplyOpt{archive.WithConvertWhiteout(archive.OverlayConvertWhiteout)}
			if len(lower) > 0 {
				opts = append(opts, archive.WithParents(lower))
			}
			return apply(upper, opts...)
		}
	}
	return mount.WithTempMount(ctx, mounts, func(root string) error { return apply(root) })
}

// layerFilter keeps every entry but character and block devices (unless
// allowed), charging each to the pull's budget before it is written into
// dir.
func layerFilter(allowDevices bool, b *budget, dir string) archive.Filter {
	return func(h *tar.Header) (bool, error) {
		if !allowDevices && (h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock) {
			return false, nil
		}
		if err := b.charge(dir, h); err != nil {
			return false, err
		}
		return true, nil
	}
}

// budget bounds what one pull's layers write: at most limit bytes in all
// (limit; 0: no bound), and never so much that less than keep bytes stay free on
// the store's file system. A gzip bomb or a sparse file declared huge is
// refused at the entry that would pass the bound, before it is written.
type budget struct {
	limit, keep int64
	spent       int64
	// files bounds the entries (0: no bound); entries counts them.
	files, entries int64
	// unchecked is what was charged since the free space was last looked
	// at: it is looked at again every checkEvery bytes.
	unchecked int64
}

// checkEvery is how much a layer may write between two looks at the free
// space (the policy's free space absorbs it), inodeCheckEvery how many
// entries.
const (
	checkEvery      = 8 << 20
	inodeCheckEvery = 1024
)

// entryCost is what an entry takes on disk, at least: its size (a sparse
// file's full size) and a block for its inode and name.
func entryCost(h *tar.Header) int64 { return max(h.Size, 0) + 4096 }

func (b *budget) charge(dir string, h *tar.Header) error {
	if b == nil {
		return nil
	}
	cost := entryCost(h)
	if b.entries++; b.files > 0 && b.entries > b.files {
		return fmt.Errorf("the image has more than %d files ([store] max_image_files; at %s): %w", b.files, h.Name, ErrTooLarge)
	}
	if b.limit > 0 && cost > b.limit-b.spent {
		return fmt.Errorf("the image unpacks to more than %s ([store] max_image_size; at %s, %s): %w", units.BytesSize(float64(b.limit)), h.Name, units.BytesSize(float64(h.Size)), ErrTooLarge)
	}
	b.spent += cost
	if b.unchecked += cost; b.unchecked >= checkEvery || cost >= checkEvery || b.spent == cost || b.entries%inodeCheckEvery == 0 {
		b.unchecked = 0
		if err := checkFree(dir, cost, b.keep); err != nil {
			return fmt.Errorf("at %s: %w", h.Name, err)
		}
	}
	return nil
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
