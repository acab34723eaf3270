package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// A blob of the store is checked against its digest when the store reads
// it, not only when it is written: a disk, a file system or a hand can
// change it later. The small blobs (manifests, indexes, configs, read
// whole) are checked at each read, so that an image whose config is not
// the one it was pulled with is broken — never a container started from
// it; a pull fetches them again (stage, adopt). A layer is checked as it
// is unpacked, against the digest of what it unpacks to (its diff ID), and
// when that fails its compressed bytes are checked, to say why; once
// unpacked, its snapshot is what containers use, and a layer is not read
// again.

// ErrCorrupt means a blob of the store no longer matches its digest.
var ErrCorrupt = errors.New("corrupt in the image store")

// corruptBlob is a blob of the store that no longer matches its digest
// (errors.Is ErrCorrupt).
type corruptBlob struct {
	digest digest.Digest
	// kind is what the blob is to its image: a manifest, a config, a layer.
	kind string
}

func (c *corruptBlob) Error() string {
	return fmt.Sprintf("%s, %v: its bytes do not match its digest: remove the images that use it (dockless image rm) and pull them again", c.String(), ErrCorrupt)
}

// String names the blob.
func (c *corruptBlob) String() string { return c.kind + " " + c.digest.String() }

func (c *corruptBlob) Is(target error) bool { return target == ErrCorrupt }

// corrupt is the error for blob desc of the store.
func corrupt(desc ocispec.Descriptor) error {
	kind := "blob"
	switch {
	case images.IsLayerType(desc.MediaType):
		kind = "layer"
	case images.IsManifestType(desc.MediaType):
		kind = "manifest"
	case images.IsIndexType(desc.MediaType):
		kind = "index"
	case images.IsConfigType(desc.MediaType):
		kind = "config"
	}
	return &corruptBlob{digest: desc.Digest, kind: kind}
}

// checked reports whether blob desc is checked at each read: not a layer,
// and no larger than the registry protocol's manifest limit.
func checked(desc ocispec.Descriptor) bool {
	return !images.IsLayerType(desc.MediaType) && desc.Size > 0 && desc.Size <= docker.MaxManifestSize
}

// verified serves the blobs of a content store that are checked at each
// read only when they match their digest; it passes layers through.
type verified struct{ content.Provider }

func (v verified) ReaderAt(ctx context.Context, desc ocispec.Descriptor) (content.ReaderAt, error) {
	ra, err := v.Provider.ReaderAt(ctx, desc)
	if err != nil || !checked(desc) {
		return ra, err
	}
	defer ra.Close()
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("blob %q: %w", desc.Digest, err)
	}
	if ra.Size() != desc.Size {
		return nil, corrupt(desc)
	}
	b := make([]byte, desc.Size)
	if _, err := ra.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	if desc.Digest.Algorithm().FromBytes(b) != desc.Digest {
		return nil, corrupt(desc)
	}
	return bytesReaderAt{bytes.NewReader(b)}, nil
}

// bytesReaderAt is a content.ReaderAt of bytes in memory.
type bytesReaderAt struct{ *bytes.Reader }

func (bytesReaderAt) Close() error { return nil }

// intactFile reports whether the file at path holds blob d: it exists,
// and, when it is no larger than the manifest limit, its bytes match d (a
// larger one, a layer, is checked as it is unpacked).
func intactFile(path string, d digest.Digest) bool {
	fi, err := os.Stat(path)
	if err != nil || d.Validate() != nil {
		return false
	}
	if fi.Size() > docker.MaxManifestSize {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	v := d.Verifier()
	_, err = io.Copy(v, f)
	return err == nil && v.Verified()
}

// corruptLayer is ErrCorrupt for the first of the layers whose copy in the
// store does not match its digest, else err: why unpacking them failed.
// Failures that say why already (a full disk, a bound, the end of the
// pull) are not looked into.
func corruptLayer(ctx context.Context, cs content.Provider, layers []ocispec.Descriptor, err error) error {
	if errors.Is(err, unix.ENOSPC) || errors.Is(err, ErrNoSpace) || errors.Is(err, ErrTooLarge) || ctx.Err() != nil {
		return err
	}
	for _, l := range layers {
		if !intactBlob(ctx, cs, l) {
			return corrupt(l)
		}
	}
	return err
}

// intactBlob reports whether the store's copy of desc matches its size and
// digest (one it cannot read does not).
func intactBlob(ctx context.Context, cs content.Provider, desc ocispec.Descriptor) bool {
	if desc.Digest.Validate() != nil {
		return false
	}
	ra, err := cs.ReaderAt(ctx, desc)
	if err != nil {
		return false
	}
	defer ra.Close()
	v := desc.Digest.Verifier()
	_, err = io.Copy(v, io.NewSectionReader(ra, 0, ra.Size()))
	return err == nil && ra.Size() == desc.Size && v.Verified()
}
