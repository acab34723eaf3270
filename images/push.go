package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ErrDenied is a registry's refusal of a push: docker's words, which
// scripts match.
var ErrDenied = errors.New("denied: requested access to the resource is denied")

// Push uploads the image ref of the store (one the caller may use) to
// its registry with the caller's credentials, docker's progress lines on
// progress: the layers, the config, then the manifest of this node's
// platform (the one manifest a pull stores). The image is held while it
// uploads, without the node lock, so that a slow registry holds up no one.
func (s *Store) Push(ctx context.Context, ref string, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	img, err := s.holdForPush(ctx, ref)
	if err != nil {
		return err
	}
	defer s.letGo(context.WithoutCancel(ctx), img)
	named, err := reference.ParseNormalizedNamed(img.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "The push refers to repository [%s]\n", reference.TrimNamed(named).String())
	return s.withContent(ctx, func(ctx context.Context, cs content.Provider) error {
		desc, err := platformManifest(ctx, cs, img.Target)
		if err != nil {
			return fmt.Errorf("image %s: %w", img.Name, err)
		}
		var sent atomic.Bool
		pusher, err := s.resolver(s.credentials(&sent)).Pusher(ctx, img.Name)
		if err != nil {
			return pushError(err)
		}
		if err := remotes.PushContent(ctx, pusher, desc, cs, nil, Platform, reportPushed(progress)); err != nil {
			return pushError(err)
		}
		tag := "latest"
		if t, ok := named.(reference.Tagged); ok {
			tag = t.Tag()
		}
		fmt.Fprintf(progress, "%s: digest: %s size: %d\n", tag, desc.Digest, desc.Size)
		return nil
	})
}

// holdForPush finds ref among the images the caller may use and holds it
// (hold.go), so that no eviction removes its content while it uploads.
func (s *Store) holdForPush(ctx context.Context, ref string) (*Image, error) {
	var img *Image
	err := s.with(ctx, func(ctx context.Context, ss *session) error {
		rec, record, err := s.find(ctx, ss, ref)
		if err == nil && !s.allowed(rec) {
			err = ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("%w: an image does not exist locally with the tag: %s", ErrNotFound, ref)
		}
		img = &Image{Name: rec.Name, Target: rec.Target, record: record}
		if img.hold, err = newHold(); err != nil {
			return err
		}
		return ss.hold(ctx, record, img.hold)
	})
	return img, err
}

// withContent runs fn on the store's content without the node lock: the
// embedded content store's blobs (read-only here, and kept by the image's
// hold), or a containerd daemon's.
func (s *Store) withContent(ctx context.Context, fn func(context.Context, content.Provider) error) error {
	if s.Containerd != "" {
		return s.withDaemon(ctx, func(ctx context.Context, ss *session) error { return fn(ctx, verified{ss.cs}) })
	}
	cs, err := local.NewStore(filepath.Join(s.root, "content"))
	if err != nil {
		return fmt.Errorf("opening content store: %w", err)
	}
	return fn(ctx, verified{cs})
}

// platformManifest is the manifest of target for this node's platform:
// target itself, or the matching manifest of an index that the store
// holds (a pull stores only that one).
func platformManifest(ctx context.Context, cs content.Provider, target ocispec.Descriptor) (ocispec.Descriptor, error) {
	if !images.IsIndexType(target.MediaType) {
		return target, nil
	}
	blob, err := content.ReadBlob(ctx, cs, target)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(blob, &idx); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("bad index: %w", err)
	}
	for _, m := range idx.Manifests {
		if m.Platform == nil || !Platform.Match(*m.Platform) {
			continue
		}
		if ra, err := cs.ReaderAt(ctx, m); err == nil {
			ra.Close()
			m.Platform = nil
			return m, nil
		}
	}
	return ocispec.Descriptor{}, errors.New("the store holds no manifest of it for this node's platform")
}

// reportPushed writes docker's line for each layer once it is uploaded.
func reportPushed(out io.Writer) func(images.Handler) images.Handler {
	return func(h images.Handler) images.Handler {
		return images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
			children, err := h.Handle(ctx, desc)
			if err == nil && images.IsLayerType(desc.MediaType) {
				fmt.Fprintf(out, "%s: Pushed\n", desc.Digest.Encoded()[:12])
			}
			return children, err
		})
	}
}

// pushError says a registry's refusal of the credentials in docker's
// words (ErrDenied).
func pushError(err error) error {
	if isAuthError(err) {
		return fmt.Errorf("%w (%v)", ErrDenied, err)
	}
	return fmt.Errorf("push: %w", err)
}
