package images

import (
	"context"
	"errors"
	"fmt"
	"github.com/sirupsen/logrus"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/metadata"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/containerd/v2/plugins/snapshots/overlay"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/net/http/httpproxy"
	"golang.org/x/sys/unix"
)

// DefaultRoot is the node store's default location.
const DefaultRoot = "/var/lib/dockless"

// Namespace is the containerd namespace dockless keeps its images in.
const Namespace = "dockless"

// snapshotter is the name of the overlay snapshotter in the metadata DB.
const snapshotter = "overlayfs"

// DefaultLockTimeout bounds how long an operation waits for another
// dockless process to finish with the store.
const DefaultLockTimeout = 10 * time.Minute

// Store is a node image store rooted at a directory. Its methods open the
// store for the length of one operation.
type Store struct {
	root        string
	LockTimeout time.Duration
	// AllowDevices keeps device nodes found in layers (the site policy's
	// [store] layer_devices); by default they are dropped.
	AllowDevices bool
	// MirrorsDir holds per-registry hosts.toml files (mirrors, pull-through
	// caches, plain HTTP, CAs): the policy's [registry] mirrors_dir.
	MirrorsDir string
	// Proxy routes registry connections (the policy's [registry]
	// https_proxy, http_proxy, no_proxy); nil: the process environment's
	// HTTPS_PROXY and friends, which a setuid dockless does not have.
	Proxy *httpproxy.Config
	// Containerd is the socket of a containerd daemon whose content store
	// and snapshotter hold the images (in the dockless namespace) instead
	// of the in-process store: for nodes that already run containerd.
	Containerd string
	// As is whom the store acts for: the images they see and use
	// (access.go) and the credentials their pulls and checks send.
	As Caller
	// Offline trusts the cache: every caller uses every cached image
	// without asking its registry ([registry] offline).
	Offline bool
	// Revalidate is how long the registry's answer about what a name
	// points at stands for the node (revalidate.go; [registry]
	// revalidate_seconds): within it, a start does not ask again whether
	// the tag moved. 0: every start asks.
	Revalidate time.Duration
	// Limits bound what one pull writes and how long it waits (fetch.go).
	Limits Limits
	// SharedCache is the cluster's shared per-layer EROFS cache
	// ([store] shared_cache; "": none): sharedcache.go.
	SharedCache string
	// SharedCacheWait bounds the wait for another node publishing a layer
	// (0: DefaultSharedCacheWait).
	SharedCacheWait time.Duration
	// PolicySource names the policy file the settings above come from,
	// for the messages of the refusals they cause.
	PolicySource string
	// Log gets the store's own lines (nil: logrus's standard logger,
	// which containerd's packages use).
	Log logrus.FieldLogger
}

func (s *Store) log() logrus.FieldLogger {
	if s.Log == nil {
		return logrus.StandardLogger()
	}
	return s.Log
}

// NewStore returns the store rooted at root (created on first use).
func NewStore(root string) *Store {
	return &Store{root: root, LockTimeout: DefaultLockTimeout}
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

// session is one open store: the content store, the overlay snapshotter
// and the image records, all in the dockless namespace — in process (the
// metadata DB over local stores) or a containerd daemon's.
type session struct {
	allowDevices bool
	cs           content.Store
	sn           snapshots.Snapshotter
	// backend is the overlay snapshotter under sn's records, in process
	// only (nil on a daemon).
	backend snapshots.Snapshotter
	images  images.Store
	// collect removes what nothing references any more (the in-process
	// store collects at once; a daemon on its own schedule).
	collect func(context.Context) error
	// collectDue reports whether the last collection is older than
	// collectEvery (never on a daemon).
	collectDue func() bool
}

// collectedStamp is the file in the store's root whose time is the last
// collection's, and collectEvery how often a container's release collects
// even when it freed nothing itself: what a dockless killed in a pull, a
// load or a release left unreferenced (a session that ends normally
// collects what it leaves) is removed within that time of the next start.
const (
	collectedStamp = "collected"
	collectEvery   = 10 * time.Minute
)

// lock takes the node-wide lock (creating the store root if needed).
func (s *Store) lock(ctx context.Context) (*os.File, error) {
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		return nil, fmt.Errorf("creating image store %s: %w", s.root, err)
	}
	if err := s.closeRoot(); err != nil {
		return nil, err
	}
	return lockFile(ctx, filepath.Join(s.root, "lock"), s.LockTimeout, s.log())
}

// closeRoot keeps the store's directory root's alone: containerd makes its
// content store world-readable below it (content/ 0755, blobs 0444), and a
// private image's layers must not be readable by users the registry would
// refuse. A directory made by dockless is 0700; one an admin made with
// wider modes is closed (with a log line), and one that is not root's is
// refused. Without root (tests of the package) nothing is checked.
func (s *Store) closeRoot() error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(s.root)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != 0 {
		return fmt.Errorf("the image store %s is not root's: it holds every user's images, private ones too: make it root's and mode 0700 (chown root:root, chmod 0700)", s.root)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(s.root, fi.Mode().Perm()&0o700); err != nil {
		return fmt.Errorf("closing the image store %s to other users: %w", s.root, err)
	}
	s.log().Warnf("the image store %s was open to other users (mode %#o): closed it (mode %#o), since it holds private images too", s.root, fi.Mode().Perm(), fi.Mode().Perm()&0o700)
	return nil
}

// with runs fn on the opened store under the node-wide lock and closes
// everything after.
func (s *Store) with(ctx context.Context, fn func(context.Context, *session) error) (err error) {
	lock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer lock.Close()
	// A layer goes into its first snapshot through a temporary mount;
	// containerd puts those under $XDG_RUNTIME_DIR or $TMPDIR unless told.
	tmp := filepath.Join(s.root, "tmpmounts")
	if err := mount.SetTempMountLocation(tmp); err != nil {
		return fmt.Errorf("creating the temporary mount directory: %w", err)
	}
	unmountStale(tmp)
	if s.Containerd != "" {
		return s.withDaemon(ctx, fn)
	}

	cs, err := local.NewStore(filepath.Join(s.root, "content"))
	if err != nil {
		return fmt.Errorf("opening content store: %w", err)
	}
	sn, err := overlay.NewSnapshotter(filepath.Join(s.root, "snapshots"))
	if err != nil {
		return fmt.Errorf("opening overlay snapshotter: %w", err)
	}
	defer func() { err = errors.Join(err, sn.Close()) }()
	bdb, err := bolt.Open(filepath.Join(s.root, "meta.db"), 0o600, &bolt.Options{Timeout: time.Minute})
	if err != nil {
		return fmt.Errorf("opening metadata db: %w", err)
	}
	defer func() { err = errors.Join(err, bdb.Close()) }()
	db := metadata.NewDB(bdb, cs, map[string]snapshots.Snapshotter{snapshotter: sn})
	if err := db.Init(ctx); err != nil {
		return fmt.Errorf("initialising metadata db: %w", err)
	}
	ctx = namespaces.WithNamespace(ctx, Namespace)
	return fn(ctx, &session{
		allowDevices: s.AllowDevices,
		cs:           db.ContentStore(),
		sn:           db.Snapshotter(snapshotter),
		backend:      sn,
		images:       metadata.NewImageStore(db),
		collect: func(ctx context.Context) error {
			if _, err := db.GarbageCollect(ctx); err != nil {
				return err
			}
			_ = os.WriteFile(filepath.Join(s.root, collectedStamp), nil, 0o600)
			return nil
		},
		collectDue: func() bool {
			fi, err := os.Stat(filepath.Join(s.root, collectedStamp))
			return err != nil || time.Since(fi.ModTime()) > collectEvery
		},
	})
}

// unmountStale unmounts and removes what a dockless killed in a session
// left in the store's temporary mount directory (a layer's first snapshot
// mounted for its unpack): temporary mounts exist only in a session, under
// the node-wide lock, which this process holds now.
func unmountStale(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, en := range entries {
		p := filepath.Join(dir, en.Name())
		if err := mount.UnmountAll(p, unix.MNT_DETACH); err == nil {
			_ = os.Remove(p)
		}
	}
}
