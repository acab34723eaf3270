package images

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"
)

// gcRoot keeps a container's snapshot (and so its image's layers) from being
// collected while the container exists.
const gcRoot = "containerd.io/gc.root"

func containerKey(id string) string { return "container/" + id }

// Prepare creates the container's copy-on-write snapshot on top of the
// image's layers and returns the mounts that make its rootfs. The
// snapshot keeps the image from eviction from then on: Prepare lets go of
// img's hold (hold.go) in the same session.
func (s *Store) Prepare(ctx context.Context, id string, img *Image) ([]mount.Mount, error) {
	var mounts []mount.Mount
	err := s.with(ctx, func(ctx context.Context, ss *session) error {
		var err error
		mounts, err = ss.prepare(ctx, id, img, "")
		return err
	})
	if err == nil {
		img.hold = ""
	}
	return mounts, err
}

// prepare creates container id's snapshot on img's layers in the session,
// notes the use (for the size cap's LRU) and lets go of img's hold. A use
// noted less than lastUsedPrecision ago (lastUsed: the record's label, ""
// unknown) is not noted again when there is no hold to let go of: that
// write (a transaction of the store's database, two fdatasyncs) would not
// change the size cap's order.
func (ss *session) prepare(ctx context.Context, id string, img *Image, lastUsed string) ([]mount.Mount, error) {
	t := time.Now()
	now := strconv.FormatInt(t.UnixNano(), 10)
	mounts, err := ss.sn.Prepare(ctx, containerKey(id), img.ChainID.String(),
		snapshots.WithLabels(map[string]string{gcRoot: now, imageLabel: img.recordName() + "@" + img.Target.Digest.String()}))
	if err != nil {
		return nil, fmt.Errorf("preparing rootfs of %s: %w", id, err)
	}
	if img.hold == "" && usedSince(lastUsed, t.Add(-lastUsedPrecision)) {
		return mounts, nil
	}
	labels, paths := map[string]string{lastUsedLabel: now}, []string{"labels." + lastUsedLabel}
	if img.hold != "" {
		labels[img.hold], paths = "", append(paths, "labels."+img.hold)
	}
	_, err = ss.images.Update(ctx, images.Image{Name: img.recordName(), Labels: labels}, paths...)
	switch {
	case errdefs.IsNotFound(err):
		// Removed meanwhile; the container's snapshot keeps its layers.
	case err != nil:
		// No snapshot without its owner knowing it: none is left behind.
		if rerr := ss.sn.Remove(ctx, containerKey(id)); rerr != nil {
			err = errors.Join(err, rerr)
		} else {
			err = errors.Join(err, ss.collect(ctx))
		}
		return nil, fmt.Errorf("preparing rootfs of %s: %w", id, err)
	}
	return mounts, nil
}

// lastUsedPrecision is how precisely the last use of an image is kept.
const lastUsedPrecision = time.Minute

// usedSince reports whether the last-used label lastUsed (Unix
// nanoseconds) is at or after since.
func usedSince(lastUsed string, since time.Time) bool {
	ns, err := strconv.ParseInt(lastUsed, 10, 64)
	return err == nil && ns >= since.UnixNano()
}

// imageLabel names, on a container's snapshot, the image record it was
// prepared from and that record's target then ("NAME@DIGEST"): while the
// record still points there, the image's layers stay referenced without
// the container's snapshot (Release).
const imageLabel = "dockless.image"

// Release removes the container's snapshot. Releasing a snapshot that is
// already gone is not an error.
//
// The in-process store removes the snapshot from the store's records and
// its directories from the overlay snapshotter at once (two transactions),
// and collects garbage only when the snapshot may have been the last
// reference to something: the image record it came from is gone or was
// moved meanwhile (dockless rmi, a pull that moved the tag, the size
// cap), the snapshot was gone already, or its directories could not be
// removed directly; or when the last collection is older than
// collectEvery (what killed sessions left). A collection takes four
// transactions of the store's databases and looks at every record.
func (s *Store) Release(ctx context.Context, id string) error {
	return s.with(ctx, func(ctx context.Context, ss *session) error {
		key := containerKey(id)
		info, err := ss.sn.Stat(ctx, key)
		if err == nil {
			err = ss.sn.Remove(ctx, key)
		}
		switch {
		case errdefs.IsNotFound(err):
			return ss.collect(ctx)
		case err != nil:
			return fmt.Errorf("removing rootfs of %s: %w", id, err)
		}
		if ss.backend == nil || !ss.removeBackend(ctx, key) || !ss.stillReferenced(ctx, info.Labels[imageLabel]) || ss.collectDue() {
			return ss.collect(ctx)
		}
		return nil
	})
}

// removeBackend removes the overlay snapshotter's snapshot behind the
// store's snapshot key, which the store's records no longer name (the
// store keeps it as "NAMESPACE/N/KEY"). It reports whether it did; if
// not, the store's collection removes it.
func (ss *session) removeBackend(ctx context.Context, key string) bool {
	var found []string
	err := ss.backend.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		rest, ok := strings.CutPrefix(info.Name, Namespace+"/")
		if !ok {
			return nil
		}
		if _, k, ok := strings.Cut(rest, "/"); ok && k == key {
			found = append(found, info.Name)
		}
		return nil
	})
	if err != nil || len(found) != 1 {
		return false
	}
	return ss.backend.Remove(ctx, found[0]) == nil
}

// stillReferenced reports whether the image record a container's snapshot
// was prepared from (its imageLabel) still points where it did.
func (ss *session) stillReferenced(ctx context.Context, label string) bool {
	i := strings.LastIndex(label, "@")
	if i <= 0 {
		return false
	}
	rec, err := ss.images.Get(ctx, label[:i])
	return err == nil && rec.Target.Digest.String() == label[i+1:]
}

// Snapshots lists the store's snapshots: the committed layers (by chain
// ID) and the containers' rootfs snapshots (by container ID).
func (s *Store) Snapshots(ctx context.Context) (layers, containers []string, err error) {
	err = s.with(ctx, func(ctx context.Context, ss *session) error {
		return ss.sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
			if id, ok := strings.CutPrefix(info.Name, containerKey("")); ok {
				containers = append(containers, id)
			} else {
				layers = append(layers, info.Name)
			}
			return nil
		})
	})
	return layers, containers, err
}
