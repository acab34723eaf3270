package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
)

// The staging area (ROOT/staging) is a plain content store outside the
// metadata DB, shared by the node's dockless processes: a pull downloads
// the blobs the node store lacks into it without the node lock (fetch.go:
// one download per blob across processes, each into an ingest of its own,
// verified on commit) and then, under the node lock, hard-links them into
// the node's content store, where the metadata DB takes them as already
// present. Nothing in the staging area is an image until then: the
// store's garbage collection never sees it. A staged blob is kept while a
// pull claims it (claims.go): a pull that fails or finishes lets go of
// its claims and removes what no other pull claims; what a killed pull
// left — its staged blobs, its partial downloads, their lock files — is
// removed by the next pull and by image prune.

// stagingDir is the staging area below the store root.
const stagingDir = "staging"

// staging is one pull's use of the staging area; it is also the fetcher
// of the pull's second phase, which runs under the node lock and so never
// goes to a registry: a blob that went missing in between (the store's
// garbage collection took one that was in the store when the pull staged)
// is errNotStaged, and the pull stages again without the lock.
type staging struct {
	root   string
	cs     content.Store
	claims *claims

	mu     sync.Mutex
	staged []digest.Digest
}

// openStaging opens the staging area (creating it: the store root is
// root's alone, 0700, created here if this is its first pull).
func (s *Store) openStaging() (*staging, error) {
	locks := filepath.Join(s.root, stagingDir, "locks")
	if err := os.MkdirAll(locks, 0o700); err != nil {
		return nil, fmt.Errorf("creating the staging area: %w", err)
	}
	cs, err := local.NewStore(filepath.Join(s.root, stagingDir))
	if err != nil {
		return nil, fmt.Errorf("opening the staging area: %w", err)
	}
	return &staging{root: s.root, cs: cs, claims: &claims{dir: locks, staged: cs}}, nil
}

// stage fetches what the image desc needs and the node store lacks into
// the staging area, reporting layers on out as the pull's progress.
func (s *Store) stage(ctx context.Context, desc ocispec.Descriptor, remote remotes.Fetcher, trusted func(*downloader), plan *layerPlan, out io.Writer, bars bool, fetched *atomic.Int64) (*staging, error) {
	st, err := s.openStaging()
	if err != nil {
		return nil, err
	}
	st.reclaim(ctx, s.log())
	cs := st.cs
	dl := &downloader{cs: cs, remote: remote, limits: s.Limits, claims: st.claims, freeDir: s.root}
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
	// The config is staged first when the shared cache is used: its diff
	// IDs name the layers to look up there.
	config := func(ctx context.Context, c ocispec.Descriptor) ([]byte, error) {
		if _, err := stageOne(ctx, c); err != nil {
			return nil, err
		}
		if b, err := content.ReadBlob(ctx, cs, c); err == nil {
			return b, nil
		}
		return st.storedBlob(c) // in the node store
	}
	children := limitLayers(plan.skipCached(imageChildren(images.ChildrenHandler(cs)), config), s.Limits.MaxImageSize)
	err = images.Dispatch(ctx, images.Handlers(images.HandlerFunc(stageOne), children), nil, desc)
	stop()
	if err != nil {
		st.cleanup(ctx)
		return nil, err
	}
	return st, nil
}

// storedBlob reads the node store's blob d (a config or manifest),
// checking its digest.
func (st *staging) storedBlob(d ocispec.Descriptor) ([]byte, error) {
	if !checked(d) || d.Digest.Validate() != nil {
		return nil, corrupt(d)
	}
	b, err := os.ReadFile(blobPath(filepath.Join(st.root, "content"), d.Digest))
	if err != nil {
		return nil, err
	}
	if d.Digest.Algorithm().FromBytes(b) != d.Digest {
		return nil, corrupt(d)
	}
	return b, nil
}

// blobPath is where a content store rooted at dir keeps blob d.
func blobPath(dir string, d digest.Digest) string {
	return filepath.Join(dir, "blobs", d.Algorithm().String(), d.Encoded())
}

// inStore reports whether the node's content store has blob d (a valid
// digest: it names a file), intact when it is checked at each read
// (verify.go): a pull fetches such a blob again when the store's copy no
// longer matches its digest.
func (st *staging) inStore(d ocispec.Descriptor) bool {
	if d.Digest.Validate() != nil {
		return false
	}
	path := blobPath(filepath.Join(st.root, "content"), d.Digest)
	if checked(d) {
		return intactFile(path, d.Digest)
	}
	_, err := os.Stat(path)
	return err == nil
}

// adopt links the staged blobs into the node's content store, in place of
// a copy there that no longer matches its digest (intactFile). It runs
// under the node lock (the store's garbage collection removes blobs the
// metadata DB does not know, and the pull records them right after).
func (st *staging) adopt() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, d := range st.staged {
		dst := blobPath(filepath.Join(st.root, "content"), d)
		if intactFile(dst, d) {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("replacing blob %s, corrupt in the store: %w", d, err)
		}
		err := os.Link(blobPath(filepath.Join(st.root, stagingDir), d), dst)
		if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("moving blob %s into the store: %w", d, err)
		}
	}
	return nil
}

// cleanup lets go of the pull's claims, removing the staged blobs and
// lock files no other pull claims.
func (st *staging) cleanup(ctx context.Context) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.claims.release(context.WithoutCancel(ctx))
	st.staged = nil
}

// errNotStaged is a blob the pull's locked phase needs and did not stage.
var errNotStaged = errors.New("a blob went missing from the store while the pull staged the others")

// errRefetch is a layer of the store that the pull found corrupt as it
// unpacked it, and removed from the store: the pull stages it again.
var errRefetch = errors.New("removed from the store, to be fetched again")

// dropCorrupt removes the store's copy of a layer that err (of the
// pull's locked phase) found corrupt; the pull then fetches it again. The
// images that have it keep their unpacked layers meanwhile.
func (st *staging) dropCorrupt(err error, log logrus.FieldLogger) error {
	var bad *corruptBlob
	if !errors.As(err, &bad) || bad.kind != "layer" {
		return err
	}
	if rerr := os.Remove(blobPath(filepath.Join(st.root, "content"), bad.digest)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return err
	}
	log.Warnf("%s is corrupt in the image store (its bytes do not match its digest): fetching it again", bad.String())
	return fmt.Errorf("%w: %w", err, errRefetch)
}

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

// pruneStaging removes what dead pulls left in the staging area.
func (s *Store) pruneStaging(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(s.root, stagingDir)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	st, err := s.openStaging()
	if err != nil {
		return err
	}
	st.reclaim(ctx, s.log())
	return nil
}

// reclaim removes what no live pull holds: the staged blobs and lock
// files no pull claims, and the partial downloads whose pull is gone.
func (st *staging) reclaim(ctx context.Context, log logrus.FieldLogger) {
	st.claims.sweep(ctx)
	st.removeDead(log)
}

// removeDead removes the partial downloads whose pull is gone, and their
// lock files. A pull takes its ingest's lock before it creates the ingest
// and lets go of it once the ingest is gone: an ingest whose lock is free,
// or has no lock file, belongs to no live pull — even one its pull was
// killed while creating, which containerd's listing of ingests skips or
// fails on.
func (st *staging) removeDead(log logrus.FieldLogger) {
	ingests := filepath.Join(st.root, stagingDir, "ingest")
	dirs, _ := os.ReadDir(ingests)
	// Listed after the ingests: the lock of each ingest listed is there.
	locks := map[string]string{}
	entries, _ := os.ReadDir(st.claims.dir)
	for _, e := range entries {
		if ref, ok := isIngestLock(e.Name()); ok {
			locks[digest.FromString(ref).Encoded()] = filepath.Join(st.claims.dir, e.Name())
		}
	}
	for _, d := range dirs {
		path, ok := locks[d.Name()]
		delete(locks, d.Name())
		if !ok {
			os.RemoveAll(filepath.Join(ingests, d.Name()))
			continue
		}
		if lock, err := tryLock(path); err == nil && lock != nil {
			log.Infof("removing the partial download %s, which dockless %s left (it is gone)", strings.TrimPrefix(filepath.Base(path), ingestLockPrefix), holderName(lockHolder(lock)))
			os.RemoveAll(filepath.Join(ingests, d.Name()))
			os.Remove(path)
			lock.Close()
		}
	}
	for _, path := range locks { // the locks of no ingest
		if lock, err := tryLock(path); err == nil && lock != nil {
			os.Remove(path)
			lock.Close()
		}
	}
}
