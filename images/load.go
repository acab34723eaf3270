package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/images/archive"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Load records the image of an OCI tar (a build's --load) in the store
// under names, for the caller alone (tag.go's rules): its content is
// imported, its layers unpacked, then each name recorded.
func (s *Store) Load(ctx context.Context, r io.Reader, names []string) (*Image, error) {
	if len(names) == 0 {
		return nil, errors.New("loading an image needs a name (-t)")
	}
	for i, ref := range names {
		name, err := Normalize(ref)
		if err != nil {
			return nil, err
		}
		names[i] = name
	}
	var img *Image
	err := s.with(ctx, func(ctx context.Context, ss *session) error {
		idx, err := archive.ImportIndex(ctx, ss.cs, r)
		if err != nil {
			return fmt.Errorf("importing the built image: %w", err)
		}
		target, err := onlyManifest(ctx, ss.cs, idx)
		if err != nil {
			return err
		}
		if err := images.Dispatch(ctx, images.SetChildrenLabels(ss.cs, images.ChildrenHandler(ss.cs)), nil, target); err != nil {
			return fmt.Errorf("importing the built image: %w", err)
		}
		if img, err = ss.unpack(ctx, names[0], target, s.Limits, nil); err != nil {
			return errors.Join(err, ss.collect(ctx))
		}
		for _, name := range names {
			if err := s.record(ctx, ss, name, target); err != nil {
				return err
			}
		}
		img.Name, img.Target = names[0], target
		return nil
	})
	return img, err
}

// onlyManifest is the one image of an imported OCI layout's index
// (listed once per name).
func onlyManifest(ctx context.Context, cs content.Provider, idx ocispec.Descriptor) (ocispec.Descriptor, error) {
	blob, err := content.ReadBlob(ctx, cs, idx)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var index ocispec.Index
	if err := json.Unmarshal(blob, &index); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("the built image's index: %w", err)
	}
	// One entry per name, all of one image.
	if len(index.Manifests) == 0 {
		return ocispec.Descriptor{}, errors.New("the built image's index lists no image")
	}
	m := index.Manifests[0]
	for _, other := range index.Manifests[1:] {
		if other.Digest != m.Digest {
			return ocispec.Descriptor{}, fmt.Errorf("the built image's index lists several images (%s, %s), want one", m.Digest, other.Digest)
		}
	}
	m.Annotations = nil
	return m, nil
}
