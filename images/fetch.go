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
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// One pull must not poison, block or fill the store for others. Every
// blob a pull downloads goes into an ingest of its own (never one another
// pull started: its bytes may have come from another registry), is
// bounded by the size its descriptor declares, and enters the content
// store only when containerd's commit has checked its size and digest; a
// download that fails is aborted at once. Pulls of one blob share one
// download through a lock file per digest; a pull waiting for another's
// download watches its progress and fetches the blob itself when that
// download stalls, and a pull gives its own stalled download up.

// Limits bound what one pull writes and how long it waits.
type Limits struct {
	// MaxImageSize bounds one image: the layer sizes its manifest declares
	// and the bytes its layers unpack to (0: no bound).
	MaxImageSize int64
	// MaxImageFiles bounds the entries of one image's layers (0: no
	// bound): inodes of the store, and time under the node lock.
	MaxImageFiles int64
	// MinFreeSpace is kept free on the store's file system: a blob or a
	// layer entry that would take it below is refused (0: none).
	MinFreeSpace int64
	// Stall is how long a download may make less than stallBytes of
	// progress (0: DefaultStall).
	Stall time.Duration
}

// DefaultStall is the stall period when Limits names none.
const DefaultStall = time.Minute

// stallBytes is the progress a download must make in each stall period.
const stallBytes = 64 << 10

func (l Limits) stall() time.Duration {
	if l.Stall <= 0 {
		return DefaultStall
	}
	return l.Stall
}

// pullIDKey carries the pull's ID in its context: it names the pull's
// ingests (ingestRef).
type pullIDKey struct{}

// withPullID gives the pull in ctx a random ID of its own.
func withPullID(ctx context.Context) context.Context {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand does not fail on Linux
	return context.WithValue(ctx, pullIDKey{}, hex.EncodeToString(b))
}

// ingestRef names the pull's ingest of desc: no other pull writes to it.
func ingestRef(ctx context.Context, desc ocispec.Descriptor) string {
	id, _ := ctx.Value(pullIDKey{}).(string)
	return "dockless-" + id + "-" + desc.Digest.Encoded()
}

// ingestLockPrefix names the lock file a pull holds while its ingest
// exists: an ingest whose lock is free belongs to a pull that is gone.
const ingestLockPrefix = "ingest-"

// downloader fetches blobs into one content store for one pull.
type downloader struct {
	cs     content.Store
	remote remotes.Fetcher
	limits Limits
	// claims are the pull's claims on the download area, whose directory
	// holds the per-digest and per-ingest lock files (claims.go; nil under
	// the node lock, where no other pull runs).
	claims *claims
	// freeDir is where the free space is checked ("" for a containerd
	// daemon: its disk is its own).
	freeDir string
	// trust reports whether the pull may take a blob the content store
	// already holds without fetching it (nil: every blob; see
	// Store.entitled); any other it must prove.
	trust func(ocispec.Descriptor) bool
	// repo is the repository the pull fetches from: a blob it commits is
	// noted as fetched from there (sourcePath).
	repo string
	// stored, when set, reports whether the blob is in the node's store
	// already (the staging area's downloader): asked again once the
	// digest's lock is held, since the pull that let go of it may have
	// moved the blob into the store and removed it from the staging area.
	stored func(ocispec.Descriptor) bool
}

// fetch is an images.HandlerFunc that downloads desc.
func (d *downloader) fetch(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
	return nil, d.get(ctx, desc)
}

// get makes sure the content store has desc: already there, downloaded by
// another pull it waited for, or downloaded here.
func (d *downloader) get(ctx context.Context, desc ocispec.Descriptor) error {
	if err := d.bound(desc); err != nil {
		return err
	}
	if d.claims == nil {
		return d.download(ctx, desc, nil)
	}
	if err := d.claims.claim(ctx, desc.Digest); err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	path := filepath.Join(d.claims.dir, desc.Digest.Encoded())
	lock, err := tryLock(path)
	if err != nil {
		return err
	}
	if lock == nil {
		// Another pull is downloading it: wait for it as long as it makes
		// progress, else fetch it here.
		lock, err = d.await(ctx, path)
		if errors.Is(err, errStalled) {
			return d.download(ctx, desc, nil)
		}
		if err != nil {
			return err
		}
	}
	defer lock.Close()
	if d.stored != nil && d.stored(desc) {
		return nil
	}
	return d.download(ctx, desc, lock)
}

// bound refuses a descriptor no blob of an image may have: a digest that
// is not one (it names files), a size that is not positive, a manifest or
// config larger than containerd's manifest limit, a layer larger than the
// image may be.
func (d *downloader) bound(desc ocispec.Descriptor) error {
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("blob %q: %w", desc.Digest, err)
	}
	max := docker.MaxManifestSize
	if images.IsLayerType(desc.MediaType) {
		max = d.limits.MaxImageSize
	}
	switch {
	case desc.Size <= 0:
		return fmt.Errorf("blob %s: the manifest gives it no size (%d)", desc.Digest, desc.Size)
	case max > 0 && desc.Size > max:
		return fmt.Errorf("blob %s: %s, more than %s (%s): %w", desc.Digest, units.BytesSize(float64(desc.Size)), units.BytesSize(float64(max)), boundName(desc), ErrTooLarge)
	}
	return nil
}

func boundName(desc ocispec.Descriptor) string {
	if images.IsLayerType(desc.MediaType) {
		return "[store] max_image_size"
	}
	return "the registry protocol's manifest limit"
}

// ErrTooLarge means an image is larger than the store lets one pull write.
var ErrTooLarge = errors.New("image too large for the node store")

// errStalled means a download made less than stallBytes of progress in a
// stall period.
var errStalled = errors.New("stalled")

// await waits for another pull's download of desc and returns the lock
// once that pull lets go of it, or errStalled when the download made less
// than stallBytes of progress in a stall period (it may be trickling from
// a registry that never finishes).
func (d *downloader) await(ctx context.Context, path string) (*os.File, error) {
	ref, offset := d.holder(ctx, path)
	since := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		lock, err := tryLock(path)
		if lock != nil || err != nil {
			return lock, err
		}
		nowRef, nowOffset := d.holder(ctx, path)
		if nowRef != ref { // another pull took the download over
			ref, offset, since = nowRef, nowOffset, time.Now()
			continue
		}
		if time.Since(since) < d.limits.stall() {
			continue
		}
		if nowOffset-offset < stallBytes {
			return nil, errStalled
		}
		offset, since = nowOffset, time.Now()
	}
}

// holder is the ingest of the pull holding the lock at path (it writes
// its ref there) and how far it got.
func (d *downloader) holder(ctx context.Context, path string) (string, int64) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return "", 0
	}
	st, err := d.cs.Status(ctx, string(b))
	if err != nil {
		return string(b), 0
	}
	return string(b), st.Offset
}

// download writes desc into an ingest of this pull's own and commits it
// (which checks its size and digest), or aborts the ingest. lock, when
// set, is the digest's lock: the ingest's ref goes there for pulls that
// wait.
func (d *downloader) download(ctx context.Context, desc ocispec.Descriptor, lock *os.File) error {
	ref := ingestRef(ctx, desc)
	if d.claims != nil {
		// Taken before the ingest exists and let go after it is gone.
		own, err := lockIngest(filepath.Join(d.claims.dir, ingestLockPrefix+ref))
		if err != nil {
			return fmt.Errorf("blob %s: %w", desc.Digest, err)
		}
		defer func() { os.Remove(own.Name()); own.Close() }()
	}
	if lock != nil {
		if err := lock.Truncate(0); err == nil {
			_, _ = lock.WriteAt([]byte(ref), 0)
		}
	}
	w, err := content.OpenWriter(ctx, d.cs, content.WithRef(ref), content.WithDescriptor(desc))
	if errdefs.IsAlreadyExists(err) {
		if d.trust != nil && !d.trust(desc) {
			return d.prove(ctx, desc)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	committed := false
	defer func() {
		w.Close()
		if !committed {
			_ = d.cs.Abort(context.WithoutCancel(ctx), ref)
		}
	}()
	if err := d.free(desc.Size); err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	// The watch starts before the request: a registry that never answers
	// stalls too.
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &progressReader{}
	stop := r.watch(d.limits.stall(), func() { cancel(errStalled) })
	rc, err := d.remote.Fetch(fctx, desc)
	if err == nil {
		r.r = rc
		// content.Copy reads at most one byte past the declared size and
		// refuses a longer blob; Commit checks the size and the digest.
		err = content.Copy(fctx, w, r, desc.Size, desc.Digest)
		rc.Close()
	}
	stop()
	switch {
	case err == nil:
		committed = true
		d.noteSource(desc)
		return nil
	case errors.Is(context.Cause(fctx), errStalled):
		return fmt.Errorf("blob %s: the registry sent less than %s in %s ([registry] stall_timeout): given up", desc.Digest, units.BytesSize(stallBytes), d.limits.stall())
	default:
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
}

// prove fetches desc from the pull's registry and checks its digest and
// size, writing nothing: the bytes are the proof that the caller may have
// a blob the store already holds for others (a registry of the caller's
// own can name any digest in a manifest, and answer for it, but cannot
// serve bytes it does not have).
func (d *downloader) prove(ctx context.Context, desc ocispec.Descriptor) error {
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &progressReader{}
	stop := r.watch(d.limits.stall(), func() { cancel(errStalled) })
	defer stop()
	rc, err := d.remote.Fetch(fctx, desc)
	if err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	r.r = rc
	v := desc.Digest.Verifier()
	n, err := io.Copy(v, io.LimitReader(r, desc.Size+1))
	switch {
	case errors.Is(context.Cause(fctx), errStalled):
		return fmt.Errorf("blob %s: the registry sent less than %s in %s ([registry] stall_timeout): given up", desc.Digest, units.BytesSize(stallBytes), d.limits.stall())
	case err != nil:
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	case n != desc.Size || !v.Verified():
		return fmt.Errorf("blob %s: the registry's bytes do not match the digest and size the manifest gives", desc.Digest)
	}
	return nil
}

// sourceSuffix names the note of which repository a pull last fetched a
// blob from.
const sourceSuffix = ".source"

func (d *downloader) sourcePath(dg digest.Digest) string {
	return filepath.Join(d.claims.dir, dg.Encoded()+sourceSuffix)
}

// noteSource records that the pull fetched desc from its repository, so
// that the pulls of the same repository that waited for it take it.
func (d *downloader) noteSource(desc ocispec.Descriptor) {
	if d.claims != nil && d.repo != "" {
		_ = os.WriteFile(d.sourcePath(desc.Digest), []byte(d.repo), 0o600)
	}
}

// fetchedFrom reports whether a pull fetched desc from repo last.
func (d *downloader) fetchedFrom(desc ocispec.Descriptor, repo string) bool {
	if d.claims == nil || repo == "" || desc.Digest.Validate() != nil {
		return false
	}
	b, err := os.ReadFile(d.sourcePath(desc.Digest))
	return err == nil && string(b) == repo
}

// free refuses to write size bytes that would leave less than the
// policy's free space on the store's file system.
func (d *downloader) free(size int64) error {
	if d.freeDir == "" {
		return nil
	}
	return checkFree(d.freeDir, size, d.limits.MinFreeSpace)
}

// checkFree refuses to write size bytes into dir when that would leave
// less than keep bytes free on its file system.
func checkFree(dir string, size, keep int64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err
	}
	if st.Files > 0 && st.Ffree < minFreeInodes {
		return fmt.Errorf("only %d inodes are left on the image store's file system (%s), fewer than %d: %w", st.Ffree, dir, minFreeInodes, ErrNoSpace)
	}
	avail := int64(st.Bavail) * int64(st.Bsize)
	switch {
	case size > avail:
		return fmt.Errorf("%s do not fit in the %s free on the image store's file system (%s; [store] min_free_space keeps %s free): %w",
			units.BytesSize(float64(size)), units.BytesSize(float64(avail)), dir, units.BytesSize(float64(keep)), ErrNoSpace)
	case avail-size < keep:
		return fmt.Errorf("%s more would leave %s free on the image store's file system (%s), less than [store] min_free_space (%s): %w",
			units.BytesSize(float64(size)), units.BytesSize(float64(avail-size)), dir, units.BytesSize(float64(keep)), ErrNoSpace)
	}
	return nil
}

// minFreeInodes is what a pull leaves of the store file system's inodes.
const minFreeInodes = 100000

// ErrNoSpace means a pull would fill the store's file system.
var ErrNoSpace = errors.New("not enough free space for the image")

// progressReader counts what a download read.
type progressReader struct {
	r io.Reader
	n atomic.Int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n.Add(int64(n))
	return n, err
}

// watch calls stalled when a stall period passes with less than stallBytes
// read; stop ends the watch.
func (p *progressReader) watch(period time.Duration, stalled func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(period)
		defer tick.Stop()
		last := int64(0)
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			n := p.n.Load()
			if n-last < stallBytes {
				stalled()
				return
			}
			last = n
		}
	}()
	return func() { close(done) }
}

// tryLock takes the lock file at path if no one holds it (nil if someone
// does).
func tryLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		return f, nil
	}
	f.Close()
	if errors.Is(err, unix.EWOULDBLOCK) {
		return nil, nil
	}
	return nil, fmt.Errorf("locking %s: %w", path, err)
}

// lockIngest takes the lock file of an ingest: the file at path when it
// holds the lock (one removed by a sweep meanwhile does not count). It
// writes its pid there, for the sweep that finds its pull gone to name.
func lockIngest(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, err
		}
		if samePath(f, path) {
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			return f, nil
		}
		f.Close()
	}
}

// limitLayers refuses a manifest whose layers together are declared larger
// than max bytes, before any of them is downloaded.
func limitLayers(children images.HandlerFunc, max int64) images.HandlerFunc {
	return func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		out, err := children(ctx, desc)
		if err != nil || max <= 0 || !images.IsManifestType(desc.MediaType) {
			return out, err
		}
		var total int64
		for _, c := range out {
			if !images.IsLayerType(c.MediaType) {
				continue
			}
			if c.Size < 0 || c.Size > max-total {
				return nil, fmt.Errorf("manifest %s declares more than %s of layers ([store] max_image_size): %w", desc.Digest, units.BytesSize(float64(max)), ErrTooLarge)
			}
			total += c.Size
		}
		return out, nil
	}
}

// isIngestLock reports whether a lock file name is an ingest's, and its
// ref.
func isIngestLock(name string) (string, bool) {
	return strings.CutPrefix(name, ingestLockPrefix)
}
