package images

import (
	"context"
	"errors"
	"fmt"
	"github.com/sirupsen/logrus"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/metadata"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/core/snapshots/storage"
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
	images       images.Store
	// collect removes what nothing references any more (the in-process
	// store collects at once; a daemon on its own schedule).
	collect func(context.Context) error
	// local is the in-process store's own parts (nil on a daemon): the
	// containers' writable layers are made from them (layer.go).
	local *localStore
}

// localStore is what a session of the in-process store opened, beyond
// containerd's interfaces.
type localStore struct {
	root string
	// bolt is the metadata database (records of images, content and
	// snapshots), db containerd's view of it.
	bolt *bolt.DB
	db   *metadata.DB
	// ms is the overlay snapshotter's own database (its snapshots'
	// directories and parents).
	ms *storage.MetaStore
}

// collectDue reports whether the in-process store's last collection is
// older than collectEvery.
func (s *Store) collectDue() bool {
	fi, err := os.Stat(filepath.Join(s.root, collectedStamp))
	return err != nil || time.Since(fi.ModTime()) > collectEvery
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
//
// flock lets a new shared holder in while an exclusive one waits, so
// starts that keep coming could keep a change of the store (a pull, rmi, a
// collection) waiting until its timeout. A second lock, the gate, is
// taken before the store's lock: exclusively, and held, by a change;
// shared, and let go once the store's lock is held, by a reader. A change
// waits at the gate for no more than other changes, and then for the
// readers inside; a reader that comes after it waits at the gate.
func (s *Store) lock(ctx context.Context, mode lockMode) (io.Closer, error) {
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		return nil, fmt.Errorf("creating image store %s: %w", s.root, err)
	}
	if err := s.closeRoot(); err != nil {
		return nil, err
	}
	start := time.Now()
	gate, err := lockFile(ctx, filepath.Join(s.root, "lock.gate"), mode, s.LockTimeout, s.log())
	if err != nil {
		return nil, err
	}
	store, err := lockFile(ctx, filepath.Join(s.root, "lock"), mode, max(s.LockTimeout-time.Since(start), 0), s.log())
	if err != nil {
		gate.Close()
		return nil, err
	}
	if mode == shared {
		gate.Close()
		return store, nil
	}
	return heldLocks{store, gate}, nil
}

// heldLocks lets go of the store's lock, then of the gate.
type heldLocks []*os.File

func (h heldLocks) Close() error {
	var errs []error
	for _, f := range h {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
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
func (s *Store) with(ctx context.Context, fn func(context.Context, *session) error) error {
	return s.open(ctx, exclusive, fn)
}

// withShared runs fn on the store opened for reading, under the node-wide
// lock held shared: any number of them at once, none beside a session
// that changes the store. fn may add a container's writable layer
// (layer.go), which is in no database. On a containerd daemon, and in a
// store whose databases do not exist yet, it returns errNoReadSession.
func (s *Store) withShared(ctx context.Context, fn func(context.Context, *session) error) error {
	if s.Containerd != "" {
		return errNoReadSession
	}
	return s.open(ctx, shared, fn)
}

// errNoReadSession: the store cannot be opened for reading only.
var errNoReadSession = errors.New("the store cannot be opened for reading only")

// open runs fn on the opened store under the node-wide lock taken as
// mode says: shared opens the databases read-only.
func (s *Store) open(ctx context.Context, mode lockMode, fn func(context.Context, *session) error) (err error) {
	lock, err := s.lock(ctx, mode)
	if err != nil {
		return err
	}
	defer lock.Close()
	readOnly := mode == shared
	// A layer goes into its first snapshot through a temporary mount;
	// containerd puts those under $XDG_RUNTIME_DIR or $TMPDIR unless told.
	tmp := filepath.Join(s.root, "tmpmounts")
	if err := mount.SetTempMountLocation(tmp); err != nil {
		return fmt.Errorf("creating the temporary mount directory: %w", err)
	}
	if !readOnly {
		unmountStale(tmp)
	}
	if s.Containerd != "" {
		return s.withDaemon(ctx, fn)
	}

	metaPath, backendPath := filepath.Join(s.root, "meta.db"), filepath.Join(s.root, "snapshots", "metadata.db")
	if readOnly {
		for _, p := range []string{metaPath, backendPath} {
			if _, err := os.Stat(p); err != nil {
				return errNoReadSession
			}
		}
	}
	cs, err := local.NewStore(filepath.Join(s.root, "content"))
	if err != nil {
		return fmt.Errorf("opening content store: %w", err)
	}
	ms, err := storage.NewMetaStore(backendPath, func(o *bolt.Options) error {
		o.ReadOnly = readOnly
		return nil
	})
	if err != nil {
		return fmt.Errorf("opening overlay snapshotter: %w", err)
	}
	sn, err := overlay.NewSnapshotter(filepath.Join(s.root, "snapshots"), overlay.WithMetaStore(ms))
	if err != nil {
		return fmt.Errorf("opening overlay snapshotter: %w", err)
	}
	defer func() { err = errors.Join(err, sn.Close()) }()
	bdb, err := bolt.Open(metaPath, 0o600, &bolt.Options{Timeout: time.Minute, ReadOnly: readOnly})
	if err != nil {
		return fmt.Errorf("opening metadata db: %w", err)
	}
	defer func() { err = errors.Join(err, bdb.Close()) }()
	db := metadata.NewDB(bdb, cs, map[string]snapshots.Snapshotter{snapshotter: sn})
	if !readOnly {
		if err := db.Init(ctx); err != nil {
			return fmt.Errorf("initialising metadata db: %w", err)
		}
	}
	ctx = namespaces.WithNamespace(ctx, Namespace)
	ss := &session{
		allowDevices: s.AllowDevices,
		cs:           db.ContentStore(),
		sn:           db.Snapshotter(snapshotter),
		images:       metadata.NewImageStore(db),
		local:        &localStore{root: s.root, bolt: bdb, db: db, ms: ms},
	}
	ss.collect = func(ctx context.Context) error {
		if readOnly {
			return errors.New("collecting garbage in a read-only session")
		}
		return s.collectLocal(ctx, ss)
	}
	return fn(ctx, ss)
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
