package images

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// What a pull leaves in the download area (ROOT/staging) is kept only as
// long as a pull uses it. Each blob digest has, in ROOT/staging/locks, a
// use lock (DIGEST.use), its download lock (DIGEST: one download of the
// blob across processes, fetch.go) and a note of the repository it was
// last fetched from (DIGEST.source); the staging area may hold the blob
// itself. A pull holds the use lock shared from before it looks for the
// blob until it is done with it (moved into the store, or failed), and it
// takes the download lock only while it holds the use lock. Whoever takes
// the use lock exclusively — no pull uses the digest — removes the
// digest's files, the use lock last, while it holds it: a pull that opened
// the use lock before it was removed finds, once it holds it, that it is
// no longer the file at its path, and takes the new one. A pull that is
// killed holds nothing, so the next pull removes what it left.

// useSuffix names a digest's use lock.
const useSuffix = ".use"

// claims are the digests one pull uses in the download area.
type claims struct {
	// dir is ROOT/staging/locks.
	dir string
	// staged is the staging area, whose blob of a digest goes with the
	// digest's lock files (nil for a containerd daemon's pull: it stages
	// nothing).
	staged content.Store

	mu   sync.Mutex
	held map[digest.Digest]*os.File
}

func (c *claims) usePath(d digest.Digest) string {
	return filepath.Join(c.dir, d.Encoded()+useSuffix)
}

// claim takes the use lock of d (once per pull), waiting for a removal of
// d's files under way to finish.
func (c *claims) claim(ctx context.Context, d digest.Digest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.held[d]; ok {
		return nil
	}
	f, err := lockShared(ctx, c.usePath(d))
	if err != nil {
		return err
	}
	if c.held == nil {
		c.held = map[digest.Digest]*os.File{}
	}
	c.held[d] = f
	return nil
}

// release lets go of the pull's claims and removes the files of the
// digests no other pull uses.
func (c *claims) release(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for d, f := range c.held {
		f.Close()
		c.reclaim(ctx, d)
	}
	c.held = nil
}

// reclaim removes the files of d (its staged blob, its download lock and
// source note, its use lock) unless a pull uses it.
func (c *claims) reclaim(ctx context.Context, d digest.Digest) {
	path := c.usePath(d)
	f, err := tryLock(path)
	if err != nil || f == nil {
		return
	}
	defer f.Close()
	if !samePath(f, path) { // removed meanwhile by another pull's reclaim
		return
	}
	if c.staged != nil {
		_ = c.staged.Delete(ctx, d)
	}
	os.Remove(filepath.Join(c.dir, d.Encoded()))
	os.Remove(filepath.Join(c.dir, d.Encoded()+sourceSuffix))
	os.Remove(path)
}

// sweep removes the files of every digest no pull uses: what killed
// pulls left, and what pulls that let go of a digest at the same moment
// each left to the other.
func (c *claims) sweep(ctx context.Context) {
	seen := map[digest.Digest]bool{}
	if c.staged != nil {
		_ = c.staged.Walk(ctx, func(info content.Info) error {
			seen[info.Digest] = true
			return nil
		})
	}
	entries, _ := os.ReadDir(c.dir)
	for _, e := range entries {
		if _, ok := isIngestLock(e.Name()); ok {
			continue
		}
		name := strings.TrimSuffix(strings.TrimSuffix(e.Name(), useSuffix), sourceSuffix)
		if d := digest.NewDigestFromEncoded(digest.SHA256, name); d.Validate() == nil {
			seen[d] = true
		}
	}
	for d := range seen {
		c.reclaim(ctx, d)
	}
}

// lockShared takes a shared lock on the file at path (created if need
// be), polling while someone holds it exclusively, until ctx is done.
func lockShared(ctx context.Context, path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, err
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
		switch {
		case err == nil && samePath(f, path):
			return f, nil
		case err == nil:
			f.Close() // removed before we held it: take the new one
			continue
		case err != unix.EWOULDBLOCK:
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: path, Err: err}
		}
		f.Close()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// samePath reports whether f is still the file at path (not removed, nor
// replaced by another).
func samePath(f *os.File, path string) bool {
	var held, named unix.Stat_t
	return unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(path, &named) == nil && held.Ino == named.Ino && held.Dev == named.Dev
}
