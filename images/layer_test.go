package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

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
