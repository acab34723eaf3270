package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// The staging area (ROOT/staging) is a plain content store outside the
// metadata DB, shared by the node's dockless processes: a pull downloads
// the blobs the node store lacks into it without the node lock (fetch.go:
// one download per blob across processes, each into an ingest of its own,
// verified on commit) and then, under the node lock, hard-links them into
// the node's content store, where the metadata DB takes them as already
// present. Nothing in the staging area is an image until then: the
// store's garbage collection never sees it. A pull removes its failed
// downloads itself; what a killed pull left is removed by the next pull
// and by image prune.

// stagingDir is the staging area below the store root.
const stagingDir = "staging"

// staging is one pull's use of the staging area; it is also the fetcher
// of the pull's second phase, which runs under the node lock and so never
// goes to a registry: a blob that went missing in between (the store's
// garbage collection took one that was in the store when the pull staged)
// is errNotStaged, and the pull stages again without the lock.
type staging struct {
	root string
	cs   content.Store

	mu     sync.Mutex
	staged []digest.Digest
}

// stage fetches what the image desc needs and the node store lacks into
// the staging area, reporting layers on out as the pull's progress.
func (s *Store) stage(ctx context.Context, desc ocispec.Descriptor, remote remotes.Fetcher, trusted func(*downloader), out io.Writer, bars bool, fetched *atomic.Int64) (*staging, error) {
	// The store root is root's alone (0700), created here if this is its
	// first pull.
	if err := os.MkdirAll(filepath.Join(s.root, stagingDir, "locks"), 0o700); err != nil {
		return nil, fmt.Errorf("creating the staging area: %w", err)
	}
	cs, err := local.NewStore(filepath.Join(s.root, stagingDir))
	if err != nil {
		return nil, fmt.Errorf("opening the staging area: %w", err)
	}
	st := &staging{root: s.root, cs: cs}
	st.removeDead(ctx)
	dl := &downloader{cs: cs, remote: remote, limits: s.Limits, locks: filepath.Join(s.root, stagingDir, "locks"), freeDir: s.root}
	trusted(dl)
	// Indexes and manifests are always staged: the walk reads them.
	dl.stored = func(d ocispec.Descriptor) bool {
		walked := images.IsIndexType(d.MediaType) || images.IsManifestType(d.MediaType)
		return !walked && st.inStore(d) && (dl.trust == nil || dl.trust(d))
	}
	fetch, report, stop := fetchHandlers(ctx, cs, dl, out, bars, fetched)
	stageOne := func(ctx context.Context, d ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		if dl.stored(d) {
			return report(ctx, d)
		}
		if _, err := fetch(ctx, d); err != nil {
			return nil, err
		}
		st.mu.Lock()
		st.staged = append(st.staged, d.Digest)
		st.mu.Unlock()
		return report(ctx, d)
	}
	children := limitLayers(imageChildren(images.ChildrenHandler(cs)), s.Limits.MaxImageSize)
	err = images.Dispatch(ctx, images.Handlers(images.HandlerFunc(stageOne), children), nil, desc)
	stop()
	if err != nil {
		st.cleanup()
		return nil, err
	}
	return st, nil
}

func (st *staging) lockPath(d digest.Digest) string {
	return filepath.Join(st.root, stagingDir, "locks", d.Encoded())
}

// blobPath is where a content store rooted at dir keeps blob d.
func blobPath(dir string, d digest.Digest) string {
	return filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// inStore reports whether the node's content store has blob d (a valid
// digest: it names a file).
func (st *staging) inStore(d ocispec.Descriptor) bool {
	if d.Digest.Validate() != nil {
		return false
	}
	_, err := os.Stat(blobPath(filepath.Join(st.root, "content"), d.Digest))
	return err == nil
}

// adopt links the staged blobs into the node's content store. It runs
// under the node lock (the store's garbage collection removes blobs the
// metadata DB does not know, and the pull records them right after).
func (st *staging) adopt() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, d := range st.staged {
		dst := blobPath(filepath.Join(st.root, "content"), d)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		err := os.Link(blobPath(filepath.Join(st.root, stagingDir), d), dst)
		if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("moving blob %s into the store: %w", d, err)
		}
	}
	return nil
}

// cleanup removes the pull's staged blobs that no other pull is using.
func (st *staging) cleanup() {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, d := range st.staged {
		f, err := os.OpenFile(st.lockPath(d), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			continue
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			_ = st.cs.Delete(context.Background(), d)
		}
		f.Close()
	}
	st.staged = nil
}

// errNotStaged is a blob the pull's locked phase needs and did not stage.
var errNotStaged = errors.New("a blob went missing from the store while the pull staged the others")

// Fetch reads a staged blob; one that is not staged is errNotStaged.
func (st *staging) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	ra, err := st.cs.ReaderAt(ctx, desc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errNotStaged, desc.Digest)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(ra, 0, ra.Size()), ra}, nil
}

// pruneStaging removes what dead pulls left in the staging area: staged
// blobs no pull holds, and downloads whose pull is gone.
func (s *Store) pruneStaging(ctx context.Context) error {
	dir := filepath.Join(s.root, stagingDir)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	cs, err := local.NewStore(dir)
	if err != nil {
		return err
	}
	st := &staging{root: s.root, cs: cs}
	_ = cs.Walk(ctx, func(info content.Info) error {
		st.staged = append(st.staged, info.Digest)
		return nil
	})
	st.cleanup()
	st.removeDead(ctx)
	return nil
}

// removeDead aborts the downloads whose pull is gone (their ingest lock is
// free, or was never taken) and removes their lock files.
func (st *staging) removeDead(ctx context.Context) {
	locks := filepath.Join(st.root, stagingDir, "locks")
	statuses, _ := st.cs.ListStatuses(ctx)
	for _, status := range statuses {
		lock, err := tryLock(filepath.Join(locks, ingestLockPrefix+status.Ref))
		if err == nil && lock != nil {
			_ = st.cs.Abort(ctx, status.Ref)
			os.Remove(lock.Name())
			lock.Close()
		}
	}
	entries, _ := os.ReadDir(locks)
	for _, e := range entries {
		if _, ok := isIngestLock(e.Name()); !ok {
			continue
		}
		if lock, err := tryLock(filepath.Join(locks, e.Name())); err == nil && lock != nil {
			os.Remove(lock.Name())
			lock.Close()
		}
	}
}
