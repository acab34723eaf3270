package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/metadata"
	"github.com/containerd/containerd/v2/core/metadata/boltutil"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/core/snapshots/storage"
	"github.com/containerd/errdefs"
	"github.com/moby/sys/userns"
	"github.com/opencontainers/image-spec/identity"
	"github.com/sirupsen/logrus"
	bolt "go.etcd.io/bbolt"
)

// A container's writable layer in the in-process store is a directory of
// its own, containers/ID under the store's root (fs, the overlay's upper
// directory, and work), mounted over the image's committed layers. No
// database records it: a start of a cached image writes nothing to the
// store's databases, so it takes the node's lock shared, and a container's
// release takes no lock at all. Concurrent starts on a node no longer
// queue behind each other's transactions (issue 16: a storm of 32 starts
// was a convoy on the exclusive lock, 45 ms held a session against 5 ms
// alone).
//
// What keeps an image's layers while a container runs on them is the
// collection (collectLocal): under the node's lock held exclusively (no
// start is adding a directory then), before it collects, it puts every
// container directory's layer into one lease, containersLease. It also
// marks (heldMark) the containers whose layer no image record points at
// any more: their release collects again, so that the layers a container
// was the last to use go when it exits. A containerd daemon's store keeps
// a container's snapshot in its own database instead (rootfs.go).
const (
	containersDir   = "containers"
	layerFile       = "layer"
	heldMark        = "held"
	containersLease = "dockless.containers"
)

// layerRecord is a container directory's layer file.
type layerRecord struct {
	// Chain is the image's top layer, the key of its snapshot (its chain
	// ID; "" for an image without layers).
	Chain string `json:"chain"`
	// Boot is the kernel's boot id when the directory was made: one of an
	// earlier boot is mounted nowhere.
	Boot string `json:"boot"`
}

// containerDir is container id's directory in the store.
func (l *localStore) containerDir(id string) string {
	return filepath.Join(l.root, containersDir, id)
}

// prepareLayer makes container id's writable layer on img's layers and
// returns the mounts of its rootfs, as the overlay snapshotter would for a
// snapshot of its own. It works in a shared session: it writes nothing but
// the container's directory.
func (ss *session) prepareLayer(ctx context.Context, id string, img *Image) ([]mount.Mount, error) {
	l := ss.local
	if err := checkContainerID(id); err != nil {
		return nil, err
	}
	if userns.RunningInUserNS() {
		// The overlay snapshotter would add "userxattr" here; dockless's
		// store runs in the initial user namespace.
		return nil, errors.New("the node store's container layers need the initial user namespace")
	}
	lowers, err := l.lowerDirs(ctx, img.ChainID.String())
	if err != nil {
		return nil, fmt.Errorf("preparing rootfs of %s: %w", id, err)
	}
	dir := l.containerDir(id)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("preparing rootfs of %s: %w", id, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("preparing rootfs of %s: %w", id, err)
	}
	made := false
	defer func() {
		if !made {
			_ = os.RemoveAll(dir)
		}
	}()
	rec, err := json.Marshal(layerRecord{Chain: img.ChainID.String(), Boot: BootID()})
	if err != nil {
		return nil, err
	}
	// The record appears whole or not at all: a collection removes a
	// directory without one as one whose start died before it mounted.
	tmp := filepath.Join(dir, layerFile+".new")
	if err := os.WriteFile(tmp, rec, 0o600); err != nil {
		return nil, fmt.Errorf("preparing rootfs of %s: %w", id, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, layerFile)); err != nil {
		return nil, fmt.Errorf("preparing rootfs of %s: %w", id, err)
	}
	upper, work := filepath.Join(dir, "fs"), filepath.Join(dir, "work")
	if err := makeUpper(upper, lowers); err != nil {
		return nil, fmt.Errorf("preparing rootfs of %s: %w", id, err)
	}
	made = true
	if len(lowers) == 0 {
		return []mount.Mount{{Type: "bind", Source: upper, Options: []string{"rw", "rbind"}}}, nil
	}
	if err := os.Mkdir(work, 0o711); err != nil {
		made = false
		return nil, fmt.Errorf("preparing rootfs of %s: %w", id, err)
	}
	opts := []string{"workdir=" + work, "upperdir=" + upper, "lowerdir=" + strings.Join(lowers, ":")}
	if overlayIndex() {
		opts = append(opts, "index=off")
	}
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: opts}}, nil
}

// makeUpper makes a container's upper directory as the overlay
// snapshotter does (owned as the image's top layer's root), mode 0755
// whatever the caller's umask: it is the container's "/".
func makeUpper(upper string, lowers []string) error {
	if err := os.Mkdir(upper, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(upper, 0o755); err != nil {
		return err
	}
	if len(lowers) == 0 {
		return nil
	}
	fi, err := os.Stat(lowers[0])
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("stat %s: no owner", lowers[0])
	}
	return os.Lchown(upper, int(st.Uid), int(st.Gid))
}

// checkContainerID refuses an id that is no plain name of a directory.
func checkContainerID(id string) error {
	if id == "" || strings.ContainsAny(id, "/\x00") || strings.HasPrefix(id, ".") {
		return fmt.Errorf("container id %q is not a plain name", id)
	}
	return nil
}

// lowerDirs are the directories of the committed layer chain and its
// parents, topmost first (overlayfs's lowerdir); none for "".
//
// The store's records name the overlay snapshotter's snapshot of each
// layer: the metadata database's v1/NAMESPACE/snapshots/SNAPSHOTTER/KEY
// bucket holds it as "name" (containerd's schema v1; the layer tests
// compare the result with the snapshotter's own mounts, so that a schema
// change fails there). The snapshotter's database gives each snapshot's
// directory and parent.
func (l *localStore) lowerDirs(ctx context.Context, chain string) ([]string, error) {
	if chain == "" {
		return nil, nil
	}
	var bkey string
	err := l.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("v1"))
		for _, name := range []string{Namespace, "snapshots", snapshotter, chain} {
			if b == nil {
				break
			}
			b = b.Bucket([]byte(name))
		}
		if b != nil {
			bkey = string(b.Get([]byte("name")))
		}
		if bkey == "" {
			return fmt.Errorf("layer %s: %w", chain, errdefs.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	tctx, t, err := l.ms.TransactionContext(ctx, false)
	if err != nil {
		return nil, err
	}
	defer t.Rollback() //nolint:errcheck // a read
	var dirs []string
	for key := bkey; key != ""; {
		id, info, _, err := storage.GetInfo(tctx, key)
		if err != nil {
			return nil, fmt.Errorf("layer %s: %w", chain, err)
		}
		if info.Kind != snapshots.KindCommitted {
			return nil, fmt.Errorf("layer %s: snapshot %s is not committed", chain, key)
		}
		dirs = append(dirs, filepath.Join(l.root, "snapshots", "snapshots", id, "fs"))
		key = info.Parent
	}
	return dirs, nil
}

// overlayIndex reports whether the kernel's overlayfs has the index
// feature, which the overlay snapshotter turns off in its mounts.
var overlayIndex = sync.OnceValue(func() bool {
	_, err := os.Stat("/sys/module/overlay/parameters/index")
	return err == nil
})

// madeBeforeBoot reports whether the directory at p was last changed
// before the kernel booted (/proc/stat's btime).
func madeBeforeBoot(p string) bool {
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			btime, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return err == nil && fi.ModTime().Unix() < btime
		}
	}
	return false
}

// BootID is the kernel's boot id ("" if unknown): a record of it tells
// what the node's restart left behind.
var BootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// releaseLayer removes container id's writable layer, if it has one
// (false: none; a daemon's store, or a container of a dockless before
// these layers, has a snapshot). It takes no lock: the directory is first
// renamed out of the collection's sight. A container the last collection
// marked, or a release when the last collection is older than
// collectEvery, collects.
func (s *Store) releaseLayer(ctx context.Context, id string) (bool, error) {
	if err := checkContainerID(id); err != nil {
		return false, err
	}
	dir := filepath.Join(s.root, containersDir, id)
	gone := filepath.Join(s.root, containersDir, "."+id+".removing")
	if err := os.Rename(dir, gone); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return true, fmt.Errorf("removing rootfs of %s: %w", id, err)
	}
	_, err := os.Lstat(filepath.Join(gone, heldMark))
	held := err == nil
	if err := os.RemoveAll(gone); err != nil {
		return true, fmt.Errorf("removing rootfs of %s: %w", id, err)
	}
	if !held && !s.collectDue() {
		return true, nil
	}
	// The layer is gone: a collection that fails leaves no more than the
	// next one takes.
	err = s.with(ctx, func(ctx context.Context, ss *session) error {
		if !held && !s.collectDue() {
			return nil // another release collected meanwhile
		}
		return ss.collect(ctx)
	})
	if err != nil {
		s.log().Warnf("container %s's release: collecting: %v", id, err)
	}
	return true, nil
}

// layers reads the containers' directories: the layer of each (by
// container id), and the directories that are no container's any more: a
// release's that was cut short, one whose start died before it wrote its
// record, one of an earlier boot (a record the node's crash left torn, in
// a directory older than the boot, too), anything but a directory.
func (l *localStore) layers() (live map[string]string, stale []string, err error) {
	dir := filepath.Join(l.root, containersDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	live = map[string]string{}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if strings.HasPrefix(e.Name(), ".") || !e.IsDir() {
			stale = append(stale, p)
			continue
		}
		b, err := os.ReadFile(filepath.Join(p, layerFile))
		if errors.Is(err, fs.ErrNotExist) {
			// Renamed away by a release meanwhile, or never finished.
			if _, serr := os.Lstat(p); serr == nil {
				stale = append(stale, p)
			}
			continue
		}
		var rec layerRecord
		if err == nil {
			err = json.Unmarshal(b, &rec)
		}
		if err != nil && madeBeforeBoot(p) {
			stale = append(stale, p)
			continue
		}
		if err != nil {
			// Which layers it keeps is unknown: nothing is collected
			// until someone who knows removes it.
			return nil, nil, fmt.Errorf("the record of container %s's writable layer cannot be read (%v): nothing is collected until %s is removed, once no container %s runs", e.Name(), err, p, e.Name())
		}
		if rec.Boot != BootID() {
			stale = append(stale, p)
			continue
		}
		live[e.Name()] = rec.Chain
	}
	return live, stale, nil
}

// collectLocal is the in-process store's collection: it leases the
// running containers' layers (leaseLayers), collects what nothing
// references, and notes the time.
func (s *Store) collectLocal(ctx context.Context, ss *session) error {
	if err := ss.leaseLayers(ctx, s.log()); err != nil {
		return fmt.Errorf("keeping the running containers' layers: %w", err)
	}
	if _, err := ss.local.db.GarbageCollect(ctx); err != nil {
		return err
	}
	_ = os.WriteFile(filepath.Join(s.root, collectedStamp), nil, 0o600)
	return nil
}

// leaseLayers makes containersLease hold exactly the layers of the
// containers' directories, removes the stale directories, and marks the
// containers whose layer is no image's top layer any more. Under the
// node's lock held exclusively.
func (ss *session) leaseLayers(ctx context.Context, log logrus.FieldLogger) error {
	l := ss.local
	live, stale, err := l.layers()
	if err != nil {
		return err
	}
	for _, p := range stale {
		// It holds nothing: one left in place is tried again next time.
		if err := os.RemoveAll(p); err != nil {
			log.Warnf("removing %s, which no container uses: %v", p, err)
		}
	}
	want := map[string]bool{}
	for _, chain := range live {
		if chain != "" {
			want[chain] = true
		}
	}
	if len(want) > 0 {
		tops, err := ss.imageTops(ctx)
		if err != nil {
			return err
		}
		for id, chain := range live {
			if chain != "" && !tops[chain] {
				if err := os.WriteFile(filepath.Join(l.containerDir(id), heldMark), nil, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
		}
	}
	lm := metadata.NewLeaseManager(l.db)
	lease := leases.Lease{ID: containersLease}
	have, err := lm.ListResources(ctx, lease)
	exists := err == nil
	if err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	if exists && sameLayers(have, want) {
		return nil
	}
	return l.bolt.Update(func(tx *bolt.Tx) error {
		ctx := boltutil.WithTransaction(ctx, tx)
		if exists {
			if err := lm.Delete(ctx, lease); err != nil {
				return err
			}
		}
		if len(want) == 0 {
			return nil
		}
		if _, err := lm.Create(ctx, leases.WithID(containersLease)); err != nil {
			return err
		}
		for _, chain := range slices.Sorted(maps.Keys(want)) {
			if err := lm.AddResource(ctx, lease, leases.Resource{ID: chain, Type: "snapshots/" + snapshotter}); err != nil {
				return err
			}
		}
		return nil
	})
}

// sameLayers reports whether a lease's resources are exactly the layers
// in want.
func sameLayers(have []leases.Resource, want map[string]bool) bool {
	if len(have) != len(want) {
		return false
	}
	for _, r := range have {
		if r.Type != "snapshots/"+snapshotter || !want[r.ID] {
			return false
		}
	}
	return true
}

// imageTops are the top layers (chain IDs) of the store's image records,
// read from their configs (a record whose config cannot be read has none).
func (ss *session) imageTops(ctx context.Context) (map[string]bool, error) {
	recs, err := ss.images.List(ctx)
	if err != nil {
		return nil, err
	}
	tops := map[string]bool{}
	for _, rec := range recs {
		cfg, err := images.Config(ctx, ss.cs, rec.Target, Platform)
		if err != nil {
			continue
		}
		if diffIDs, err := images.RootFS(ctx, ss.cs, cfg); err == nil {
			tops[identity.ChainID(diffIDs).String()] = true
		}
	}
	return tops, nil
}
