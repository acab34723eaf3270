package images

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// The shared cache ([store] shared_cache) is a directory on the cluster's
// parallel file system holding one EROFS image per layer, keyed by its
// diff ID: DIR/sha256/xx/<diffID>.erofs, the layout containerd's EROFS
// snapshotter reads. Beside each image, <diffID>.erofs.sha256 (the
// sidecar) records the image's sha256 and the repositories it was
// published from, and <diffID>.erofs.lock is the lock its publishers take. All
// are root's: directories 0711, files 0600.
//
// A pull looks each layer up before it downloads anything: a hit — an
// image published from the same repository (the caller's registry let
// them resolve the manifest that names it, so it would serve them the
// layer), whose sha256 matches its sidecar (hashed once per node, then
// known by its inode and times) — is neither downloaded nor unpacked: its
// snapshot stays empty, with a marker (markerName) naming the file, and
// the file is mounted read-only as the layer's overlay lower when a
// container or the next layer needs it (erofsmount.go). On a miss the
// pull takes the layer's lock (bounded wait: a node that waited finds the
// layer published), downloads and unpacks it as before, and publishes the
// unpacked layer as EROFS (erofsconv.go): temp file, fsync, sidecar
// renamed first, then the image, then the directory fsynced. The node
// store never deletes a shared file.

// DefaultSharedCacheWait bounds how long a pull waits for another node
// publishing a layer it needs before it pulls the layer itself.
const DefaultSharedCacheWait = 5 * time.Minute

// sharedCache is the store's view of the shared cache.
type sharedCache struct {
	dir string
	// node is the node's own record of the files it checked (ROOT/erofs).
	node string
	wait time.Duration
	log  logrus.FieldLogger
}

// sharedCache is the store's shared cache, or nil when there is none or
// the store is a containerd daemon's.
func (s *Store) sharedCache() *sharedCache {
	if s.SharedCache == "" || s.Containerd != "" {
		return nil
	}
	wait := s.SharedCacheWait
	if wait <= 0 {
		wait = DefaultSharedCacheWait
	}
	return &sharedCache{dir: s.SharedCache, node: filepath.Join(s.root, "erofs"), wait: wait, log: s.log()}
}

// layerPath is where the cache keeps the layer diffID.
func layerPath(dir string, diffID digest.Digest) string {
	hex := diffID.Encoded()
	return filepath.Join(dir, diffID.Algorithm().String(), hex[:2], hex+".erofs")
}

const (
	sidecarSuffix = ".sha256"
	lockSuffix    = ".lock"
	tempPrefix    = ".tmp-"
)

// checkedFile is a cache file the node checked against its sidecar: its
// path and sha256, and what it was when checked. A snapshot's marker is
// one, and the node's record of a check.
type checkedFile struct {
	Path   string `json:"path"`
	Sum    string `json:"sha256"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Size   int64  `json:"size"`
	Mtime  int64  `json:"mtime"`
	Ctime  int64  `json:"ctime"`
	DiffID string `json:"diff_id"`
}

// same reports whether st is the file as it was when checked.
func (c checkedFile) same(st *unix.Stat_t) bool {
	return c.Dev == st.Dev && c.Ino == st.Ino && c.Size == st.Size &&
		c.Mtime == st.Mtim.Nano() && c.Ctime == st.Ctim.Nano()
}

// rootsOnly refuses a cache file another user owns or may read or write.
func rootsOnly(path string, st *unix.Stat_t) error {
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return fmt.Errorf("%s is not a regular file", path)
	case st.Uid != 0 || st.Mode&0o077 != 0:
		return fmt.Errorf("%s is not root's alone (uid %d, mode %04o)", path, st.Uid, st.Mode&0o7777)
	}
	return nil
}

// sidecar reads the sidecar of the cache file at path: the file's sha256
// and the repositories it was published from.
func readSidecar(path string) (sum string, repos []string, err error) {
	f, err := os.OpenFile(path+sidecarSuffix, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", nil, err
	}
	if err := rootsOnly(f.Name(), &st); err != nil {
		return "", nil, err
	}
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		if r, ok := strings.CutPrefix(sc.Text(), "repo "); ok {
			repos = append(repos, r)
		} else if sum == "" {
			sum = sc.Text()
		}
	}
	if _, err := hex.DecodeString(sum); err != nil || len(sum) != 64 {
		return "", nil, fmt.Errorf("%s: no sha256", f.Name())
	}
	return sum, repos, sc.Err()
}

func sidecarBytes(sum string, repos []string) []byte {
	var b bytes.Buffer
	b.WriteString(sum + "\n")
	for _, r := range repos {
		b.WriteString("repo " + r + "\n")
	}
	return b.Bytes()
}

// lookup finds the layer diffID for a pull from repo: the checked file,
// or false on a miss (with the reason logged when it is not plain
// absence).
func (c *sharedCache) lookup(diffID digest.Digest, repo string) (checkedFile, bool) {
	path := layerPath(c.dir, diffID)
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return checkedFile{}, false
	}
	sum, repos, err := readSidecar(path)
	if err == nil {
		err = rootsOnly(path, &st)
	}
	if err != nil {
		c.log.Warnf("shared cache: layer %s not used: %v: pulling it", diffID, err)
		return checkedFile{}, false
	}
	if !slices.Contains(repos, repo) {
		c.log.Infof("shared cache: layer %s was not published from %s: pulling it", diffID, repo)
		return checkedFile{}, false
	}
	rec, err := c.check(path, sum, diffID)
	if err != nil {
		c.log.Warnf("shared cache: layer %s fails its check (%v): pulling it instead", diffID, err)
		return checkedFile{}, false
	}
	return rec, true
}

// check checks the cache file at path against sum once per node: a file
// the node checked before, unchanged since, is not hashed again.
func (c *sharedCache) check(path, sum string, diffID digest.Digest) (checkedFile, error) {
	recPath := filepath.Join(c.node, diffID.Encoded())
	var rec checkedFile
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return rec, err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return rec, err
	}
	if b, err := os.ReadFile(recPath); err == nil && json.Unmarshal(b, &rec) == nil &&
		rec.Path == path && rec.Sum == sum && rec.same(&st) {
		return rec, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return rec, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		return rec, fmt.Errorf("%s: sha256 %s, its sidecar records %s", path, got, sum)
	}
	rec = checkedFile{Path: path, Sum: sum, Dev: st.Dev, Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), DiffID: diffID.String()}
	if err := os.MkdirAll(c.node, 0o700); err == nil {
		b, _ := json.Marshal(rec)
		_ = WriteWhole(recPath, b)
	}
	return rec, nil
}

// layerPlan is one pull's use of the shared cache: the layers it takes
// from there and the locks it holds on those it publishes.
type layerPlan struct {
	c    *sharedCache
	repo string

	mu sync.Mutex
	// hits are the layers taken from the cache, by blob digest.
	hits map[digest.Digest]checkedFile
	// locks are the locks of the layers this pull publishes, by diff ID.
	locks map[digest.Digest]*os.File
	// planned notes that the plan was made (the pull's first walk).
	planned bool
}

func newLayerPlan(c *sharedCache, repo string) *layerPlan {
	if c == nil {
		return nil
	}
	return &layerPlan{c: c, repo: repo, hits: map[digest.Digest]checkedFile{}, locks: map[digest.Digest]*os.File{}}
}

// hit is the cached file for the layer blob, if the pull takes it from
// the cache.
func (p *layerPlan) hit(blob digest.Digest) (checkedFile, bool) {
	if p == nil {
		return checkedFile{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rec, ok := p.hits[blob]
	return rec, ok
}

// plan looks the layers (blob digests and their diff IDs) up in the cache
// once per pull: hits are taken, misses locked for publishing, waiting
// (bounded) for a node publishing one now. Locks are taken in diff ID
// order, so that two pulls never wait on each other.
func (p *layerPlan) plan(ctx context.Context, blobs, diffIDs []digest.Digest) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.planned {
		return
	}
	p.planned = true
	order := make([]int, len(blobs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(diffIDs[a].String(), diffIDs[b].String()) })
	for _, i := range order {
		d := diffIDs[i]
		if d.Validate() != nil || d.Algorithm() != digest.SHA256 || p.locks[d] != nil {
			continue
		}
		if rec, ok := p.c.lookup(d, p.repo); ok {
			p.hits[blobs[i]] = rec
			continue
		}
		lock, err := p.c.lock(ctx, d)
		if err != nil {
			p.c.log.Warnf("shared cache: layer %s: %v: pulling it without publishing it", d, err)
			continue
		}
		if rec, ok := p.c.lookup(d, p.repo); ok { // published while this pull waited
			lock.Close()
			p.hits[blobs[i]] = rec
			continue
		}
		p.locks[d] = lock
	}
}

// publishing reports whether this pull publishes the layer diffID (it
// holds its lock).
func (p *layerPlan) publishing(diffID digest.Digest) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.locks[diffID] != nil
}

// release lets go of the pull's locks.
func (p *layerPlan) release() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for d, l := range p.locks {
		l.Close()
		delete(p.locks, d)
	}
}

// lock takes the publishing lock of the layer diffID, waiting at most
// c.wait for another node's publication.
func (c *sharedCache) lock(ctx context.Context, diffID digest.Digest) (*os.File, error) {
	path := layerPath(c.dir, diffID)
	if err := c.mkdirs(filepath.Dir(path)); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.wait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		lock, err := tryLock(path + lockSuffix)
		if lock != nil || err != nil {
			return lock, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("another node has been publishing it for more than %s", c.wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// mkdirs creates the cache's directories down to dir, root's and 0711.
func (c *sharedCache) mkdirs(dir string) error {
	rel, err := filepath.Rel(c.dir, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("%s is outside the shared cache", dir)
	}
	p := c.dir
	for _, part := range append([]string{"."}, strings.Split(rel, string(filepath.Separator))...) {
		p = filepath.Join(p, part)
		if err := os.Mkdir(p, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("creating the shared cache: %w", err)
		} else if err == nil {
			if err := os.Chmod(p, 0o711); err != nil {
				return err
			}
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR || st.Uid != 0 || st.Mode&0o022 != 0 {
			return fmt.Errorf("shared cache directory %s is not root's with mode 0711 (uid %d, mode %04o): refused", p, st.Uid, st.Mode&0o7777)
		}
		if st.Mode&0o044 != 0 { // others list the layers: no more
			if err := os.Chmod(p, 0o711); err != nil {
				return err
			}
			c.log.Warnf("shared cache directory %s was mode %04o: made 0711 (other users must not list it)", p, st.Mode&0o7777)
		}
	}
	return nil
}

// publish writes the unpacked layer dir (overlay's form: whiteouts as 0:0
// devices, opaque directories marked) as the cache's EROFS image of
// diffID, recording repo in its sidecar. The caller holds its lock.
func (c *sharedCache) publish(dir string, diffID digest.Digest, repo string) error {
	path := layerPath(c.dir, diffID)
	parent := filepath.Dir(path)
	c.removeTemps(parent, diffID)
	if sum, repos, err := readSidecar(path); err == nil && c.intact(path, sum) {
		// Published from another repository: this pull proved that the
		// registry has the layer here too.
		return c.writeSidecar(path, sum, append(repos, repo))
	}
	tmp, err := os.CreateTemp(parent, tempPrefix+diffID.Encoded()+"-")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name()) // gone after the rename
	}()
	if err := writeErofs(tmp, dir); err != nil {
		return fmt.Errorf("converting layer %s: %w", diffID, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := c.writeSidecar(path, hex.EncodeToString(h.Sum(nil)), []string{repo}); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(parent)
}

// intact reports whether the cache file at path is root's and hashes to
// sum (a file that does not is replaced by the publisher).
func (c *sharedCache) intact(path, sum string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || rootsOnly(path, &st) != nil {
		return false
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false
	}
	return hex.EncodeToString(h.Sum(nil)) == sum
}

// writeSidecar replaces the sidecar of path (temp file, fsync, rename).
func (c *sharedCache) writeSidecar(path, sum string, repos []string) error {
	parent := filepath.Dir(path)
	tmp, err := os.CreateTemp(parent, tempPrefix+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if _, err := tmp.Write(sidecarBytes(sum, slices.Compact(slices.Sorted(slices.Values(repos))))); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path+sidecarSuffix); err != nil {
		return err
	}
	return syncDir(parent)
}

// removeTemps removes what publishers of diffID that died left (the
// caller holds the layer's lock, so no living one writes them).
func (c *sharedCache) removeTemps(dir string, diffID digest.Digest) {
	left, _ := filepath.Glob(filepath.Join(dir, tempPrefix+diffID.Encoded()+"*"))
	for _, f := range left {
		os.Remove(f)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// skipCached wraps a pull walk's children handler: a manifest's config is
// read first (through config, which fetches it) and, on the pull's first
// walk, its layers are looked up in the shared cache; the layers the pull
// takes from there are left out of the walk, so never downloaded. The
// config is left out too: config handled it.
func (p *layerPlan) skipCached(children images.HandlerFunc, config func(context.Context, ocispec.Descriptor) ([]byte, error)) images.HandlerFunc {
	if p == nil {
		return children
	}
	return func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		out, err := children(ctx, desc)
		if err != nil || !images.IsManifestType(desc.MediaType) {
			return out, err
		}
		var layers []ocispec.Descriptor
		var rest []ocispec.Descriptor
		var cfg *ocispec.Descriptor
		for i, c := range out {
			switch {
			case images.IsLayerType(c.MediaType):
				layers = append(layers, c)
			case images.IsConfigType(c.MediaType) && cfg == nil:
				cfg = &out[i]
			default:
				rest = append(rest, c)
			}
		}
		if cfg == nil {
			return out, nil
		}
		b, err := config(ctx, *cfg)
		if err != nil {
			return nil, err
		}
		var img ocispec.Image
		if err := json.Unmarshal(b, &img); err != nil || len(img.RootFS.DiffIDs) != len(layers) {
			return append(rest, layers...), nil // the unpack refuses it
		}
		blobs := make([]digest.Digest, len(layers))
		for i, l := range layers {
			blobs[i] = l.Digest
		}
		p.plan(ctx, blobs, img.RootFS.DiffIDs)
		for _, l := range layers {
			if _, hit := p.hit(l.Digest); !hit {
				rest = append(rest, l)
			}
		}
		return rest, nil
	}
}

// layerPlan is the pull's use of the shared cache for the image name, or
// nil when the store has none or the kernel cannot mount its files (said
// once, in a log line).
func (s *Store) layerPlan(name string) *layerPlan {
	c := s.sharedCache()
	if c == nil {
		return nil
	}
	if !erofsKernel() {
		s.log().Warnf("shared cache %s not used: the kernel has no EROFS (%s): layers are pulled and unpacked on this node", c.dir, procFilesystems)
		return nil
	}
	return newLayerPlan(c, repository(name))
}

// publish publishes the layer diffID just unpacked into the snapshot
// whose mounts are given; a failure is logged, not the pull's.
func (p *layerPlan) publish(diffID digest.Digest, mounts []mount.Mount) {
	dir := snapshotDir(mounts)
	if dir == "" {
		return
	}
	start := time.Now()
	if err := p.c.publish(filepath.Join(dir, "fs"), diffID, p.repo); err != nil {
		p.c.log.Warnf("shared cache: publishing layer %s: %v", diffID, err)
		return
	}
	p.c.log.Infof("shared cache: published layer %s in %s", diffID, time.Since(start).Round(time.Millisecond))
}
