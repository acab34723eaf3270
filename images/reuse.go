package images

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/containerd/containerd/v2/pkg/rootfs"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
)

// uncompressedLabel records on a layer blob the diff ID it was seen to
// unpack to (containerd's label, which its own unpacker sets too).
const uncompressedLabel = "containerd.io/uncompressed"

// checkReused makes sure that each layer whose snapshot the store already
// has is what this image's blob holds. containerd's ApplyLayers reuses a
// snapshot by chain ID alone, and the chain comes from the image's config:
// an image of a user's own registry whose config names the diff IDs of
// another user's image over blobs of its own would otherwise be given that
// image's files (and its record then shared them with everyone). A blob is
// known to unpack to a diff ID when it carries uncompressedLabel (set once
// it was unpacked or checked); any other is decompressed and hashed here.
// Layers taken from the shared cache are checked by the cache.
func (ss *session) checkReused(ctx context.Context, name string, layers []rootfs.Layer, plan *layerPlan) error {
	diffIDs := make([]digest.Digest, len(layers))
	for i, l := range layers {
		diffIDs[i] = l.Diff.Digest
	}
	chain := identity.ChainIDs(diffIDs)
	for i, l := range layers {
		if _, ok := plan.hit(l.Blob.Digest); ok {
			continue
		}
		if _, err := ss.sn.Stat(ctx, chain[i].String()); err != nil {
			continue // not there: it is unpacked now, and its digest checked
		}
		info, err := ss.cs.Info(ctx, l.Blob.Digest)
		if errdefs.IsNotFound(err) {
			return fmt.Errorf("image %s: layer %s is not in the store to check it against the diff ID %s its config names: refused", name, l.Blob.Digest, l.Diff.Digest)
		}
		if err != nil {
			return err
		}
		if info.Labels[uncompressedLabel] == l.Diff.Digest.String() {
			continue
		}
		got, err := uncompressedDigest(ctx, ss.cs, l)
		if err != nil {
			return fmt.Errorf("image %s: checking layer %s: %w", name, l.Blob.Digest, err)
		}
		if got != l.Diff.Digest {
			return fmt.Errorf("image %s: layer %s unpacks to %s, not to the diff ID %s its config names: refused (the image's config does not describe its layers)", name, l.Blob.Digest, got, l.Diff.Digest)
		}
		if err := ss.labelUncompressed(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

// labelUncompressed notes on the layer's blob (where the store has it)
// that it unpacks to the layer's diff ID.
func (ss *session) labelUncompressed(ctx context.Context, l rootfs.Layer) error {
	info := content.Info{Digest: l.Blob.Digest, Labels: map[string]string{uncompressedLabel: l.Diff.Digest.String()}}
	if _, err := ss.cs.Update(ctx, info, "labels."+uncompressedLabel); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("labelling layer %s: %w", l.Blob.Digest, err)
	}
	return nil
}

// uncompressedDigest decompresses the layer's blob and hashes it.
func uncompressedDigest(ctx context.Context, cs content.Provider, l rootfs.Layer) (digest.Digest, error) {
	ra, err := cs.ReaderAt(ctx, l.Blob)
	if err != nil {
		return "", err
	}
	defer ra.Close()
	ds, err := compression.DecompressStream(content.NewReader(ra))
	if err != nil {
		return "", err
	}
	defer ds.Close()
	d := digest.Canonical.Digester()
	if _, err := io.Copy(d.Hash(), ds); err != nil {
		return "", err
	}
	return d.Digest(), nil
}
