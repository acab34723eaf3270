package images

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	"golang.org/x/sys/unix"
)

// ErrNoSharedCache means a shared cache command ran on a node whose
// policy names none.
var ErrNoSharedCache = errors.New("no shared cache: set [store] shared_cache in the policy")

// Publish fills the shared cache with the layers of img (in the node
// store, unpacked) that it lacks, ahead of a job that starts it on many
// nodes: one line per layer on out. A layer the node took from the cache
// itself is there already.
func (s *Store) Publish(ctx context.Context, img *Image, out io.Writer) error {
	c := s.sharedCache()
	if c == nil {
		return ErrNoSharedCache
	}
	repo := repository(img.Name)
	return s.with(ctx, func(ctx context.Context, ss *session) (err error) {
		// The layers' views are collected before the session ends.
		defer func() { err = errors.Join(err, ss.collect(ctx)) }()
		diffIDs := img.Config.RootFS.DiffIDs
		for i, d := range diffIDs {
			if _, ok := c.lookup(d, repo); ok {
				fmt.Fprintf(out, "%s: already in the shared cache\n", d.Encoded()[:12])
				continue
			}
			lock, err := c.lock(ctx, d)
			if err != nil {
				return fmt.Errorf("layer %s: %w", d, err)
			}
			err = ss.publishLayer(ctx, c, identity.ChainID(diffIDs[:i+1]).String(), d, repo)
			lock.Close()
			if err != nil {
				return fmt.Errorf("publishing layer %s of %s: %w", d, img.Name, err)
			}
			fmt.Fprintf(out, "%s: published\n", d.Encoded()[:12])
		}
		return nil
	})
}

// publishLayer publishes the layer diffID, unpacked in the snapshot
// chain, through a view of it.
func (ss *session) publishLayer(ctx context.Context, c *sharedCache, chain string, diffID digest.Digest, repo string) error {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	key := "publish/" + hex.EncodeToString(b)
	mounts, err := ss.sn.View(ctx, key, chain)
	if err != nil {
		return err
	}
	defer ss.sn.Remove(context.WithoutCancel(ctx), key) //nolint:errcheck // a view: collected at the end of Publish
	dir := topLayerDir(mounts)
	if _, cached, err := readMarker(dir); err != nil || cached {
		return fmt.Errorf("not unpacked on this node (its cache file fails its check): pull the image again first")
	}
	return c.publish(dir, diffID, repo)
}

// topLayerDir is the directory of the top layer of a view's mounts: the
// directory bind-mounted, or overlay's first lower directory.
func topLayerDir(mounts []mount.Mount) string {
	if len(mounts) != 1 {
		return ""
	}
	if mounts[0].Type == "bind" {
		return mounts[0].Source
	}
	_, lower := overlayDirs(mounts[0].Options)
	if len(lower) == 0 {
		return ""
	}
	return lower[0]
}

// PruneSharedCache removes from the shared cache the layers no node read
// or published for age (by the file's access and modification times: a
// node reads a file when it first checks and mounts it), and what dead
// publishers left, older than age: the files removed are returned. A
// node store holding a removed layer pulls its image again.
func (s *Store) PruneSharedCache(age time.Duration) ([]string, error) {
	c := s.sharedCache()
	if c == nil {
		return nil, ErrNoSharedCache
	}
	cutoff := time.Now().Add(-age)
	buckets, err := filepath.Glob(filepath.Join(c.dir, "sha256", "*"))
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, b := range buckets {
		entries, err := os.ReadDir(b)
		if err != nil {
			return removed, err
		}
		for _, e := range entries {
			path := filepath.Join(b, e.Name())
			if c.stale(path, e.Name(), cutoff) {
				removed = append(removed, c.prune(path, e.Name())...)
			}
		}
	}
	return removed, nil
}

// stale reports whether the cache entry at path (named name) is unused
// since cutoff: a layer image, or a dead publisher's temporary file.
func (c *sharedCache) stale(path, name string, cutoff time.Time) bool {
	if !strings.HasSuffix(name, ".erofs") && !strings.HasPrefix(name, tempPrefix) {
		return false
	}
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return false
	}
	last := max(st.Atim.Nano(), st.Mtim.Nano())
	return last < cutoff.UnixNano()
}

// prune removes the layer image at path, its sidecar and its lock under
// the lock (a layer being published is left), or a temporary file.
func (c *sharedCache) prune(path, name string) []string {
	if strings.HasPrefix(name, tempPrefix) {
		if os.Remove(path) == nil {
			return []string{path}
		}
		return nil
	}
	lock, err := tryLock(path + lockSuffix)
	if err != nil || lock == nil {
		return nil
	}
	defer lock.Close()
	var removed []string
	for _, p := range []string{path + sidecarSuffix, path, lock.Name()} {
		if os.Remove(p) == nil {
			removed = append(removed, p)
		}
	}
	return removed
}
