package images

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
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
	var mounts []mount.Mount
	var err error
	if ss.local != nil {
		mounts, err = ss.prepareLayer(ctx, id, img)
	} else {
		mounts, err = ss.sn.Prepare(ctx, containerKey(id), img.ChainID.String(), snapshots.WithLabels(map[string]string{gcRoot: now}))
	}
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
	case err != nil && ss.local != nil:
		// No layer without its owner knowing it: none is left behind.
		return nil, errors.Join(fmt.Errorf("preparing rootfs of %s: %w", id, err), os.RemoveAll(ss.local.containerDir(id)))
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

// Release removes the container's writable layer (layer.go) or, on a
// containerd daemon, its snapshot. Releasing one that is already gone is
// not an error. A snapshot in the in-process store (a container of a
// dockless before writable layers) goes with a collection.
func (s *Store) Release(ctx context.Context, id string) error {
	if s.Containerd == "" {
		if released, err := s.releaseLayer(ctx, id); released || err != nil {
			return err
		}
	}
	return s.with(ctx, func(ctx context.Context, ss *session) error {
		err := ss.sn.Remove(ctx, containerKey(id))
		if err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("removing rootfs of %s: %w", id, err)
		}
		return ss.collect(ctx)
	})
}

// Snapshots lists the store's snapshots: the committed layers (by chain
// ID) and the containers' rootfs snapshots and writable layers (by
// container ID).
func (s *Store) Snapshots(ctx context.Context) (layers, containers []string, err error) {
	err = s.with(ctx, func(ctx context.Context, ss *session) error {
		if ss.local != nil {
			live, _, err := ss.local.layers()
			if err != nil {
				return err
			}
			containers = slices.Sorted(maps.Keys(live))
		}
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
