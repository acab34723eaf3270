package images

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// localLabel marks an image record a user made on the node (tag, build)
// rather than pulled: its value is their uid. Its name says nothing about
// what its registry holds, so another caller's check at the registry
// grants them nothing but the registry's own image (cached).
const localLabel = "dockless.local.uid"

// Tag records dst as another name of the image src (one the caller may
// use), as docker tag. The record is the caller's alone (their access
// label, marked local): a name on the node is shared, so a caller may
// replace a record only where it is theirs alone, and root any. It
// returns the normalised dst.
func (s *Store) Tag(ctx context.Context, src, dst string) (string, error) {
	name, err := Normalize(dst)
	if err != nil {
		return "", err
	}
	err = s.with(ctx, func(ctx context.Context, ss *session) error {
		rec, _, err := s.find(ctx, ss, src)
		if err == nil && !s.allowed(rec) {
			err = fmt.Errorf("%w: %s", ErrNotFound, src)
		}
		if err != nil {
			return err
		}
		return s.record(ctx, ss, name, rec.Target)
	})
	return name, err
}

// record names target name for the caller, as a local record (Tag, a
// build's --load): it replaces an existing record only when that is the
// caller's alone.
func (s *Store) record(ctx context.Context, ss *session, name string, target ocispec.Descriptor) error {
	old, err := ss.images.Get(ctx, name)
	switch {
	case errdefs.IsNotFound(err):
	case err != nil:
		return err
	case !s.ownedAlone(old):
		return fmt.Errorf("%s: the name is another user's image on this node (the store is shared): choose another name", name)
	}
	now := time.Now()
	labels := map[string]string{lastUsedLabel: strconv.FormatInt(now.UnixNano(), 10), localLabel: strconv.FormatUint(uint64(s.As.UID), 10)}
	if l := s.accessLabel(false); l != "" {
		labels[l] = strconv.FormatInt(now.Unix(), 10)
	}
	rec := images.Image{Name: name, Target: target, Labels: labels}
	if errdefs.IsNotFound(err) {
		_, err = ss.images.Create(ctx, rec)
	} else {
		_, err = ss.images.Update(ctx, rec, "target", "labels")
	}
	if err != nil {
		return fmt.Errorf("recording image %s: %w", name, err)
	}
	return ss.collectMoved(ctx, old, target.Digest)
}

// collectMoved collects, once a name moved from the record old to target,
// what only the image old named used (the layers of a container on it stay,
// leased, until its release collects: layer.go). Not while a run holds
// that image between its pull and its container's layer: the periodic
// collection takes it later (collectEvery).
func (ss *session) collectMoved(ctx context.Context, old images.Image, target digest.Digest) error {
	if held, _ := holds(old.Labels); held || old.Target.Digest == "" || old.Target.Digest == target {
		return nil
	}
	return ss.collect(ctx)
}

// ownedAlone reports whether the caller may replace the record rec: root
// any, anyone else one only they may use.
func (s *Store) ownedAlone(rec images.Image) bool {
	if s.As.Root {
		return true
	}
	if rec.Labels[publicLabel] != "" {
		return false
	}
	for k, v := range rec.Labels {
		if v != "" && strings.HasPrefix(k, uidLabelPrefix) && k != uidLabel(s.As.UID) {
			return false
		}
	}
	return rec.Labels[uidLabel(s.As.UID)] != ""
}

// foreignLocal reports whether labels are those of a record another user
// made on the node (Tag, a build): what its registry lets the caller pull
// under that name is another image unless the digests agree.
func (s *Store) foreignLocal(labels map[string]string) bool {
	owner := labels[localLabel]
	return owner != "" && owner != strconv.FormatUint(uint64(s.As.UID), 10)
}

// ownLocal reports whether labels are those of a record the caller made
// on the node.
func (s *Store) ownLocal(labels map[string]string) bool {
	return labels[localLabel] == strconv.FormatUint(uint64(s.As.UID), 10)
}
