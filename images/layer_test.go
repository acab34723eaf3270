package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/mount"
)

// optionsOf are a mount's options as a set, without the container's own
// directories (upperdir, workdir).
func optionsOf(m mount.Mount) []string {
	var out []string
	for _, o := range m.Options {
		if !strings.HasPrefix(o, "upperdir=") && !strings.HasPrefix(o, "workdir=") {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

// TestLayer_MountsAsTheSnapshotterWould: a container's writable layer is
// mounted over the same directories, with the same options, as the
// overlay snapshotter's own snapshot on the image (which the layer reads
// from containerd's schema: a change of it fails here), its upper
// directory is 0755 whatever the umask and owned as the image's root, and
// it is in no database: the store's metadata is not written.
func TestLayer_MountsAsTheSnapshotterWould(t *testing.T) {
	s, reg := testStore(t)
	ctx := context.Background()
	img := pullOK(t, s, push(t, reg, "test/layers:1", busyboxWith(t, "top", 10)))
	var want []mount.Mount
	err := s.with(ctx, func(ctx context.Context, ss *session) error {
		var err error
		want, err = ss.sn.Prepare(ctx, "compare", img.ChainID.String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(s.Root(), "meta.db")
	before, err := os.Stat(meta)
	if err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o077)
	var got []mount.Mount
	err = s.withShared(ctx, func(ctx context.Context, ss *session) error {
		var err error
		got, err = ss.prepareLayer(ctx, "c1", img)
		return err
	})
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(want) != 1 || got[0].Type != want[0].Type || !slices.Equal(optionsOf(got[0]), optionsOf(want[0])) {
		t.Fatalf("the layer's mounts %+v, the snapshotter's %+v", got, want)
	}
	if !slices.ContainsFunc(got[0].Options, func(o string) bool { return strings.Count(o, ":") >= 2 && strings.HasPrefix(o, "lowerdir=") }) {
		t.Errorf("lowerdir names fewer than the image's 3 layers: %v", got[0].Options)
	}
	upper := filepath.Join(s.Root(), containersDir, "c1", "fs")
	if !slices.Contains(got[0].Options, "upperdir="+upper) {
		t.Errorf("upperdir is not %s: %v", upper, got[0].Options)
	}
	fi, err := os.Stat(upper)
	if err != nil || fi.Mode().Perm() != 0o755 || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Errorf("upper directory %v (%v), want root's, mode 0755", fi.Mode(), err)
	}
	if after, err := os.Stat(meta); err != nil || !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size() {
		t.Errorf("making a container's layer wrote the metadata database (%v)", err)
	}
	dir := t.TempDir()
	if err := MountAll(got, dir); err != nil {
		t.Fatal(err)
	}
	_, serr := os.Stat(filepath.Join(dir, "top"))
	if err := mount.UnmountAll(dir, 0); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Errorf("the image's top layer's file is not in the container's root: %v", serr)
	}
	if err := s.Release(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), containersDir, "c1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the release left the container's directory: %v", err)
	}
}

// TestLayer_StartsShareTheLock: a start of a cached image goes on while
// other starts hold the node's lock shared and waits while a change holds
// it exclusively; a release waits for nothing.
func TestLayer_StartsShareTheLock(t *testing.T) {
	s, reg := testStore(t)
	ctx := context.Background()
	ref := push(t, reg, "test/shared:1", busyboxWith(t, "", 0))
	pullOK(t, s, ref)
	s.Revalidate = time.Hour
	start := func(id string, timeout time.Duration) (*Image, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return s.Ensure(ctx, ref, PullNever, PullOptions{Hold: true, Prepare: id})
	}
	reader, err := lockFile(ctx, filepath.Join(s.Root(), "lock"), shared, time.Second, s.log())
	if err != nil {
		t.Fatal(err)
	}
	img, err := start("beside-a-reader", 5*time.Second)
	reader.Close()
	if err != nil || img.Mounts == nil {
		t.Fatalf("a start beside a shared holder: %v (mounts %v)", err, img)
	}
	if err := s.Release(ctx, "beside-a-reader"); err != nil {
		t.Fatal(err)
	}

	if img, err = start("first", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	writer, err := lockFile(ctx, filepath.Join(s.Root(), "lock"), exclusive, time.Second, s.log())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := start("beside-a-writer", 300*time.Millisecond); err == nil {
		t.Error("a start went on while the store was locked exclusively")
	}
	// A collection just ran: the release owes none.
	if err := os.WriteFile(filepath.Join(s.Root(), collectedStamp), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	released := make(chan error, 1)
	go func() { released <- s.Release(ctx, "first") }()
	select {
	case err := <-released:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a release waited for the store's lock")
	}
	writer.Close()
	if _, containers, err := s.Snapshots(ctx); err != nil || len(containers) != 0 {
		t.Errorf("containers left: %v (%v)", containers, err)
	}
}

// TestLayer_CollectionKeepsTheLayersOfRunningContainers: an image removed
// while a container runs on it keeps its layers (the collection leases
// them) until the container's release, which collects them; what dead
// starts and releases, and earlier boots, left in the containers'
// directory goes at a collection and holds nothing.
func TestLayer_CollectionKeepsTheLayersOfRunningContainers(t *testing.T) {
	s, reg := testStore(t)
	ctx := context.Background()
	ref := push(t, reg, "test/removed:1", busyboxWith(t, "own", 100))
	img := pullOK(t, s, ref)
	if _, err := s.Prepare(ctx, "running", img); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.Root(), containersDir)
	// Left by a dockless of an earlier boot, one killed before its start
	// recorded the layer, and one killed in its release.
	earlier := filepath.Join(dir, "earlier")
	if err := os.MkdirAll(earlier, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(earlier, layerFile), []byte(`{"chain":"`+img.ChainID.String()+`","boot":"another"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "unrecorded", "fs"), filepath.Join(dir, ".gone.removing", "fs")} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Remove(ctx, ref); err != nil {
		t.Fatal(err)
	}
	layers, containers, err := s.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(layers, img.ChainID.String()) {
		t.Fatalf("removing the image collected the layer a running container is on: layers %v", layers)
	}
	if !slices.Equal(containers, []string{"running"}) {
		t.Errorf("containers %v, want only the running one", containers)
	}
	for _, p := range []string{earlier, filepath.Join(dir, "unrecorded"), filepath.Join(dir, ".gone.removing")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the collection left %s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "running", heldMark)); err != nil {
		t.Errorf("the container whose image went is not marked: %v", err)
	}
	if err := s.Release(ctx, "running"); err != nil {
		t.Fatal(err)
	}
	assertEmpty(t, s)
}

// TestLayer_AChangeGetsInWhileStartsKeepComing: readers that keep the
// store's lock shared without a gap do not keep a change out: the change
// waits at the gate only for the readers already in.
func TestLayer_AChangeGetsInWhileStartsKeepComing(t *testing.T) {
	needRoot(t)
	s := NewStore(t.TempDir())
	s.LockTimeout = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Staggered: at every moment at least one holds the lock.
			time.Sleep(time.Duration(i) * 8 * time.Millisecond)
			for ctx.Err() == nil {
				l, err := s.lock(ctx, shared)
				if err != nil {
					return
				}
				time.Sleep(30 * time.Millisecond)
				l.Close()
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	l, err := s.lock(context.Background(), exclusive)
	if err != nil {
		t.Fatalf("a change beside readers that keep coming: %v", err)
	}
	l.Close()
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("a change waited %s for readers that keep coming", waited)
	}
	cancel()
	wg.Wait()
}

// TestLayer_StartNotesTheUseWhenTheStoreIsFree: a start notes the use of
// its image for the size cap's order, once a minute, and only when no one
// holds the store: a start does not queue for it.
func TestLayer_StartNotesTheUseWhenTheStoreIsFree(t *testing.T) {
	s, reg := testStore(t)
	ctx := context.Background()
	ref := push(t, reg, "test/used:1", busyboxWith(t, "", 0))
	name := pullOK(t, s, ref).Name
	lastUsed := func() string {
		t.Helper()
		var v string
		err := s.with(ctx, func(ctx context.Context, ss *session) error {
			rec, err := ss.images.Get(ctx, name)
			v = rec.Labels[lastUsedLabel]
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	setLastUsed := func(v string) {
		t.Helper()
		err := s.with(ctx, func(ctx context.Context, ss *session) error {
			_, err := ss.images.Update(ctx, images.Image{Name: name, Labels: map[string]string{lastUsedLabel: v}}, "labels."+lastUsedLabel)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	start := func(id string) {
		t.Helper()
		img, err := s.Ensure(ctx, ref, PullNever, PullOptions{Hold: true, Prepare: id})
		if err != nil || img.Mounts == nil {
			t.Fatalf("start %s: %v", id, err)
		}
		if err := s.Release(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	old := strconv.FormatInt(time.Now().Add(-time.Hour).UnixNano(), 10)
	setLastUsed(old)
	// A collection just ran: the releases owe none.
	if err := os.WriteFile(filepath.Join(s.Root(), collectedStamp), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	reader, err := lockFile(ctx, filepath.Join(s.Root(), "lock"), shared, time.Second, s.log())
	if err != nil {
		t.Fatal(err)
	}
	s.LockTimeout = 5 * time.Second
	began := time.Now()
	start("busy")
	reader.Close()
	if waited := time.Since(began); waited >= s.LockTimeout {
		t.Errorf("a start waited %s for a busy store to note its use", waited)
	}
	if got := lastUsed(); got != old {
		t.Errorf("a start noted its use while the store was busy: %s", got)
	}
	start("free")
	noted := lastUsed()
	if !usedSince(noted, time.Now().Add(-time.Minute)) {
		t.Fatalf("a start on a free store did not note its use: %s", noted)
	}
	start("again")
	if got := lastUsed(); got != noted {
		t.Errorf("a start noted its use again within a minute: %s, then %s", noted, got)
	}
}

// TestLayer_UpperIsTheImageRootsOwners: the container's "/" is owned as
// the image's top layer's root, mode 0755 whatever the umask.
func TestLayer_UpperIsTheImageRootsOwners(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	lower := filepath.Join(dir, "lower")
	if err := os.Mkdir(lower, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(lower, 1000, 1001); err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o077)
	err := makeUpper(filepath.Join(dir, "upper"), []string{lower})
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "upper"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1001 || fi.Mode().Perm() != 0o755 {
		t.Errorf("upper %d:%d %v, want 1000:1001 0755", st.Uid, st.Gid, fi.Mode().Perm())
	}
}

// TestLayer_ContainerIDsArePlainNames: no id names a directory outside the
// containers' directory, nor a release's leftover.
func TestLayer_ContainerIDsArePlainNames(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"0123abcd", true},
		{"", false},
		{"../x", false},
		{"a/b", false},
		{".x.removing", false},
		{"x\x00y", false},
	} {
		if err := checkContainerID(tc.id); (err == nil) != tc.ok {
			t.Errorf("checkContainerID(%q) = %v, want ok %v", tc.id, err, tc.ok)
		}
	}
}

// TestLayer_TornRecords: a layer record that cannot be read in a directory
// older than the boot (the node went down before its write reached the
// disk) is a stale directory; one made since the boot stops collections,
// naming the directory, but not the release of other containers.
func TestLayer_TornRecords(t *testing.T) {
	s, reg := testStore(t)
	ctx := context.Background()
	img := pullOK(t, s, push(t, reg, "test/torn:1", busyboxWith(t, "", 0)))
	dir := filepath.Join(s.Root(), containersDir)
	torn := func(name string, at time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, layerFile), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	collect := func() error {
		return s.with(ctx, func(ctx context.Context, ss *session) error { return ss.collect(ctx) })
	}
	before := torn("before-boot", time.Unix(1000, 0))
	if err := collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(before); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a torn record from before the boot was kept: %v", err)
	}
	since := torn("since-boot", time.Now())
	if err := collect(); err == nil || !strings.Contains(err.Error(), since) {
		t.Errorf("a torn record of this boot: the collection says %v", err)
	}
	if _, err := s.Prepare(ctx, "other", img); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-collectEvery - time.Minute)
	if err := os.Chtimes(filepath.Join(s.Root(), collectedStamp), old, old); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "other"); err != nil {
		t.Errorf("another container's release failed on the torn record: %v", err)
	}
	if err := os.RemoveAll(since); err != nil {
		t.Fatal(err)
	}
}
