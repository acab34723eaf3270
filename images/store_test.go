package images

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/errdefs"
	"github.com/dockless/dockless/hack/testimage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	"golang.org/x/sys/unix"
)

// The store's tests pull real images, built from the host's static busybox
// (testimage), from a registry served on 127.0.0.1, and unpack them into
// real overlay snapshots: they need root.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the store unpacks layers and mounts overlays: needs root")
	}
}

// testStore is a store of root's own in a directory of the test, and the
// registry it pulls from.
func testStore(t *testing.T) (*Store, *testimage.Registry) {
	t.Helper()
	needRoot(t)
	reg, err := testimage.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	s := NewStore(t.TempDir())
	s.As = Caller{Root: true}
	s.LockTimeout = 10 * time.Second
	return s, reg
}

// busyboxWith is the busybox image with one more layer holding the file
// /name, size bytes (none but the busybox layers when size is 0).
func busyboxWith(t *testing.T, name string, size int) v1.Image {
	t.Helper()
	var o testimage.Options
	if size > 0 {
		o.Extra = []testimage.File{{Name: name, Mode: 0o644, Body: bytes.Repeat([]byte(name), size/len(name)+1)[:size]}}
	}
	img, err := testimage.Busybox(o)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// push serves img at the registry as repoTag and returns its reference.
func push(t *testing.T, reg *testimage.Registry, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := reg.Push(repoTag, img)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// pullOK pulls ref into s.
func pullOK(t *testing.T, s *Store, ref string) *Image {
	t.Helper()
	img, err := s.Pull(context.Background(), ref, PullOptions{})
	if err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
	return img
}

// entries lists the files below dir (none when it does not exist).
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// mountsUnder lists the mount points below dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			out = append(out, f[4])
		}
	}
	return out
}

// assertEmpty fails unless the store holds no image, snapshot, blob,
// download or mount, and its staging area nothing either (no lock file).
func assertEmpty(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	if imgs, err := s.List(ctx); err != nil || len(imgs) != 0 {
		t.Errorf("images left: %v (%v)", imgs, err)
	}
	if layers, containers, err := s.Snapshots(ctx); err != nil || len(layers)+len(containers) != 0 {
		t.Errorf("snapshots left: layers %v, containers %v (%v)", layers, containers, err)
	}
	for _, dir := range []string{"content/blobs", "content/ingest", "staging", "snapshots/snapshots", containersDir} {
		if left := entries(t, filepath.Join(s.Root(), dir)); len(left) != 0 {
			t.Errorf("files left in %s: %v", dir, left)
		}
	}
	if left := mountsUnder(t, s.Root()); len(left) != 0 {
		t.Errorf("mounts left: %v", left)
	}
}

// TestStore_PullFetchesOnlyWhatTheStoreLacks: a pull through the registry
// protocol records the image with its config, unpacked layers and size,
// reports each layer and the digest, and a later pull of an image that
// shares layers downloads only its own config and layer; nothing is left
// in the staging area, not even a lock file.
func TestStore_PullFetchesOnlyWhatTheStoreLacks(t *testing.T) {
	s, reg := testStore(t)
	base := busyboxWith(t, "", 0)
	more := busyboxWith(t, "more", 4096)
	baseRef := push(t, reg, "test/base:latest", base)
	moreRef := push(t, reg, "test/more:latest", more)
	reg.Reset()

	var progress bytes.Buffer
	img, err := s.Pull(context.Background(), baseRef, PullOptions{Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	manifestDigest, _ := base.Digest()
	configDigest, _ := base.ConfigName()
	cfg, _ := base.ConfigFile()
	var diffIDs []digest.Digest
	for _, d := range cfg.RootFS.DiffIDs {
		diffIDs = append(diffIDs, digest.Digest(d.String()))
	}
	if img.Name != baseRef || img.Target.Digest.String() != manifestDigest.String() || img.ID.String() != configDigest.String() {
		t.Errorf("pulled %s target %s ID %s, want %s target %s ID %s", img.Name, img.Target.Digest, img.ID, baseRef, manifestDigest, configDigest)
	}
	if img.ChainID != identity.ChainID(diffIDs) || !slices.Equal(img.Config.Config.Cmd, []string{"sh"}) {
		t.Errorf("chain ID %s, Cmd %q: want %s, [sh]", img.ChainID, img.Config.Config.Cmd, identity.ChainID(diffIDs))
	}
	if bb, err := os.Stat("/bin/busybox"); err != nil || img.Size < bb.Size() {
		t.Errorf("unpacked size %d, less than busybox (%v)", img.Size, err)
	}
	if n := strings.Count(progress.String(), ": Pull complete"); n != 3 || !strings.Contains(progress.String(), "Digest: "+manifestDigest.String()) {
		t.Errorf("progress reports %d layers (want 3) and no digest %s:\n%s", n, manifestDigest, progress.String())
	}
	if listed, err := s.List(context.Background()); err != nil || len(listed) != 1 || listed[0].ID != img.ID {
		t.Errorf("listed %v (%v), want the pulled image", listed, err)
	}

	reg.Reset()
	pullOK(t, s, moreRef)
	moreConfig, _ := more.ConfigName()
	layers, _ := more.Layers()
	extra, _ := layers[len(layers)-1].Digest()
	want := map[string]int{moreConfig.String(): 1, extra.String(): 1}
	if got := reg.BlobGets("test/more"); !maps.Equal(got, want) {
		t.Errorf("the second pull fetched %v, want only its config and its own layer %v", got, want)
	}
	if left := entries(t, filepath.Join(s.Root(), stagingDir)); len(left) != 0 {
		t.Errorf("staged blobs or lock files left after the pulls: %v", left)
	}
}

// TestStore_PrepareMountsACopyOnWriteRootAndReleaseRemovesIt: a prepared
// snapshot mounts as the image's root (its files, its owners, the
// whiteouts applied); what a container writes stays in its own snapshot;
// releasing it leaves the image's layers and nothing else.
func TestStore_PrepareMountsACopyOnWriteRootAndReleaseRemovesIt(t *testing.T) {
	s, reg := testStore(t)
	ctx := context.Background()
	img := pullOK(t, s, push(t, reg, "test/busybox:latest", busyboxWith(t, "", 0)))
	layersBefore, _, err := s.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := func(id string) string {
		mounts, err := s.Prepare(ctx, id, img)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := mount.All(mounts, dir); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = mount.UnmountAll(dir, 0) })
		return dir
	}
	first := rootfs("first")

	host, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(first, "bin/busybox")); err != nil || !bytes.Equal(got, host) {
		t.Errorf("/bin/busybox is not the host's busybox (%v)", err)
	}
	if target, err := os.Readlink(filepath.Join(first, "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("/bin/sh -> %q (%v), want busybox", target, err)
	}
	if got, err := os.ReadFile(filepath.Join(first, "etc/passwd")); err != nil || string(got) != testimage.Passwd {
		t.Errorf("/etc/passwd: %q (%v)", got, err)
	}
	if _, err := os.Lstat(filepath.Join(first, "etc/motd")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/etc/motd, deleted by the last layer's whiteout: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(first, "home/alice")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 1000 {
		t.Errorf("/home/alice is not alice's: %v", err)
	}
	if err := os.WriteFile(filepath.Join(first, "written"), []byte("by the first container"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := rootfs("second")
	if _, err := os.Stat(filepath.Join(second, "written")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a file the first container wrote is in the second's root: %v", err)
	}
	if _, containers, _ := s.Snapshots(ctx); !slices.Equal(slices.Sorted(slices.Values(containers)), []string{"first", "second"}) {
		t.Errorf("container snapshots %v, want first and second", containers)
	}

	for _, dir := range []string{first, second} {
		if err := mount.UnmountAll(dir, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"first", "second", "first"} { // releasing twice is no error
		if err := s.Release(ctx, id); err != nil {
			t.Fatalf("release %s: %v", id, err)
		}
	}
	layers, containers, err := s.Snapshots(ctx)
	if err != nil || len(containers) != 0 || !slices.Equal(slices.Sorted(slices.Values(layers)), slices.Sorted(slices.Values(layersBefore))) {
		t.Errorf("after release: layers %v, containers %v (%v); want the image's layers %v", layers, containers, err, layersBefore)
	}
	if dirs, _ := os.ReadDir(filepath.Join(s.Root(), "snapshots", "snapshots")); len(dirs) != len(layersBefore) {
		t.Errorf("%d snapshot directories left, want the image's %d layers", len(dirs), len(layersBefore))
	}
	if left := mountsUnder(t, s.Root()); len(left) != 0 {
		t.Errorf("mounts left: %v", left)
	}
}

// TestStore_ReleaseCollectsOnlyWhatTheContainerMayHaveHeld: releasing a
// container whose image record still points where it did removes the
// container's snapshot and its directories and collects nothing (an
// unreferenced snapshot made for the test survives); once the tag moved
// to another image meanwhile (the pull that moved it collects what only
// the old image used: not the layer the container is on), the release
// collects: the old image's own layer goes.
func TestStore_ReleaseCollectsOnlyWhatTheContainerMayHaveHeld(t *testing.T) {
	s, reg := testStore(t)
	ctx := context.Background()
	ref := push(t, reg, "test/app:1", busyboxWith(t, "old", 100))
	old := pullOK(t, s, ref)
	orphan := func() bool {
		found := false
		err := s.with(ctx, func(ctx context.Context, ss *session) error {
			_, err := ss.sn.Stat(ctx, "orphan")
			if errdefs.IsNotFound(err) {
				_, err = ss.sn.Prepare(ctx, "orphan", "")
				return err
			}
			found = err == nil
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return found
	}
	// A collection just ran (as one does at least every collectEvery):
	// the releases below owe none for its own sake.
	if err := s.with(ctx, func(ctx context.Context, ss *session) error { return ss.collect(ctx) }); err != nil {
		t.Fatal(err)
	}
	orphan()
	layers, _, err := s.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(ctx, "kept", old); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if !orphan() {
		t.Error("releasing a container whose image is still there collected garbage")
	}
	if dirs, _ := os.ReadDir(filepath.Join(s.Root(), "snapshots", "snapshots")); len(dirs) != len(layers) {
		t.Errorf("%d snapshot directories after the release, want %d (the layers and the unreferenced one)", len(dirs), len(layers))
	}
	// Once the last collection is older than collectEvery, a release
	// collects what killed sessions may have left.
	old10 := time.Now().Add(-collectEvery - time.Minute)
	if err := os.Chtimes(filepath.Join(s.Root(), collectedStamp), old10, old10); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Prepare(ctx, "late", old); err != nil {
		t.Fatal(err)
	}
	if err := s.Release(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	if orphan() {
		t.Error("a release after collectEvery without a collection did not collect")
	}

	if _, err := s.Prepare(ctx, "moved", old); err != nil {
		t.Fatal(err)
	}
	push(t, reg, "test/app:1", busyboxWith(t, "new", 100))
	pullOK(t, s, ref)
	if during, _, _ := s.Snapshots(ctx); !slices.Contains(during, old.ChainID.String()) {
		t.Fatal("the pull that moved the tag collected the old image's layer under a running container")
	}
	if err := s.Release(ctx, "moved"); err != nil {
		t.Fatal(err)
	}
	after, containers, err := s.Snapshots(ctx)
	if err != nil || len(containers) != 0 {
		t.Fatalf("containers %v (%v)", containers, err)
	}
	if slices.Contains(after, old.ChainID.String()) {
		t.Errorf("after the tag moved, the release left %v: the old image's layer", after)
	}
	if dirs, _ := os.ReadDir(filepath.Join(s.Root(), "snapshots", "snapshots")); len(dirs) != len(after) {
		t.Errorf("%d snapshot directories for %d snapshots", len(dirs), len(after))
	}
}

// TestStore_PullThatMovesATagCollectsTheOldImage: a pull that moves a tag
// to another image removes what only the old image used (its own layer's
// snapshot and blobs): nothing is left for a later session to collect;
// but not while a run holds the old image for its container.
func TestStore_PullThatMovesATagCollectsTheOldImage(t *testing.T) {
	s, reg := testStore(t)
	ctx := context.Background()
	ref := push(t, reg, "test/app:1", busyboxWith(t, "old", 100))
	old := pullOK(t, s, ref)
	push(t, reg, "test/app:1", busyboxWith(t, "new", 100))
	pullOK(t, s, ref)
	layers, _, err := s.Snapshots(ctx)
	if err != nil || slices.Contains(layers, old.ChainID.String()) {
		t.Fatalf("after the tag moved: layers %v (%v), the old image's own one among them", layers, err)
	}
	if dirs, _ := os.ReadDir(filepath.Join(s.Root(), "snapshots", "snapshots")); len(dirs) != len(layers) {
		t.Errorf("%d snapshot directories for %d layers", len(dirs), len(layers))
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "content", "blobs", "sha256", old.Target.Digest.Encoded())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old image's manifest is still in the store: %v", err)
	}

	// A run that pulled the image and holds it until its container's
	// snapshot is made keeps it through a pull that moves the tag.
	held, err := s.Pull(ctx, ref, PullOptions{Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	push(t, reg, "test/app:1", busyboxWith(t, "newer", 100))
	pullOK(t, s, ref)
	if _, err := s.Prepare(ctx, "held", held); err != nil {
		t.Fatalf("the held image lost its layers to the pull that moved its tag: %v", err)
	}
	if err := s.Release(ctx, "held"); err != nil {
		t.Fatal(err)
	}
}

// TestStore_EnforceCap: the cap evicts the least recently used images
// (pulled or prepared last longest ago) until the images fit, never one a
// container's snapshot is on, and nothing when they fit already; what an
// evicted image alone used is collected.
func TestStore_EnforceCap(t *testing.T) {
	needRoot(t)
	built := map[string]v1.Image{}
	for i, n := range []string{"a", "b", "c"} {
		built[n] = busyboxWith(t, n, (i+1)<<12)
	}
	for _, c := range []struct {
		name string
		// keep is prepared (and kept) after the pulls of a, b and c, then
		// use are prepared and released, in order: they were used last.
		keep string
		use  []string
		// max is the cap, from the sizes of the images and their total.
		max      func(size map[string]int64, total int64) int64
		wantGone []string
	}{
		{"removes nothing under the cap", "", []string{"a"}, func(_ map[string]int64, total int64) int64 { return total }, nil},
		{"evicts the least recently used first", "", []string{"a"}, func(_ map[string]int64, total int64) int64 { return total - 1 }, []string{"b"}},
		{"evicts until the rest fit", "", []string{"a"}, func(size map[string]int64, _ int64) int64 { return size["a"] }, []string{"b", "c"}},
		{"never evicts an image a container uses", "a", []string{"b", "c"}, func(_ map[string]int64, total int64) int64 { return total - 1 }, []string{"b"}},
		{"never evicts an image a container uses, even over the cap", "a", nil, func(map[string]int64, int64) int64 { return 0 }, []string{"b", "c"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, reg := testStore(t)
			ctx := context.Background()
			pulled := map[string]*Image{}
			for _, n := range []string{"a", "b", "c"} {
				pulled[n] = pullOK(t, s, push(t, reg, "test/"+n+":latest", built[n]))
			}
			if c.keep != "" {
				if _, err := s.Prepare(ctx, "keep", pulled[c.keep]); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Release(ctx, "keep") })
			}
			for _, n := range c.use {
				if _, err := s.Prepare(ctx, "use", pulled[n]); err != nil {
					t.Fatal(err)
				}
				if err := s.Release(ctx, "use"); err != nil {
					t.Fatal(err)
				}
			}
			listed, err := s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			size, total := map[string]int64{}, int64(0)
			for _, img := range listed {
				size[strings.TrimPrefix(strings.TrimSuffix(img.Name, ":latest"), reg.Addr+"/test/")] = img.Size
				total += img.Size
			}
			layersBefore, _, _ := s.Snapshots(ctx)

			names, count, err := s.EnforceCap(ctx, c.max(size, total))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, n := range c.wantGone {
				want = append(want, pulled[n].Name)
			}
			if !slices.Equal(names, want) || count != len(want) {
				t.Errorf("evicted %v (%d), want %v", names, count, want)
			}
			var kept []string
			if listed, err = s.List(ctx); err != nil {
				t.Fatal(err)
			}
			for _, img := range listed {
				kept = append(kept, img.Name)
			}
			for _, n := range []string{"a", "b", "c"} {
				if slices.Contains(kept, pulled[n].Name) == slices.Contains(want, pulled[n].Name) {
					t.Errorf("images kept %v, evicted %v", kept, want)
					break
				}
			}
			// Each image has one layer of its own on the busybox layers.
			if layers, _, _ := s.Snapshots(ctx); len(layers) != len(layersBefore)-len(want) {
				t.Errorf("%d layer snapshots after evicting %d images, had %d", len(layers), len(want), len(layersBefore))
			}
		})
	}
}

// TestStore_PullBoundsLeaveNothingBehind: a pull refused by one of its
// bounds, or by the digest of a layer, fails with the rule that refused
// it, and leaves no image, blob, snapshot, download or lock file behind.
func TestStore_PullBoundsLeaveNothingBehind(t *testing.T) {
	needRoot(t)
	img, err := testimage.WithBigFile(256 << 10) // random: the last layer is as large
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var compressed int64
	for _, l := range manifest.Layers {
		compressed += l.Size
	}
	last := manifest.Layers[len(manifest.Layers)-1].Digest.String()
	for _, c := range []struct {
		name   string
		limits Limits
		opts   PullOptions
		// serve, when set, misbehaves at the registry for the case.
		serve   func(t *testing.T, reg *testimage.Registry)
		wantIs  error
		wantMsg string
	}{
		{name: "layers declared larger than max_image_size", limits: Limits{MaxImageSize: compressed - 1},
			wantIs: ErrTooLarge, wantMsg: "declares more than"},
		{name: "layers unpacking to more than max_image_size", limits: Limits{MaxImageSize: compressed},
			wantIs: ErrTooLarge, wantMsg: "unpacks to more than"},
		{name: "more files than max_image_files", limits: Limits{MaxImageFiles: 10},
			wantIs: ErrTooLarge, wantMsg: "max_image_files"},
		{name: "less free space left than min_free_space", limits: Limits{MinFreeSpace: 1 << 62},
			wantIs: ErrNoSpace, wantMsg: "min_free_space"},
		{name: "a layer that stalls past stall_timeout", limits: Limits{Stall: 200 * time.Millisecond},
			serve: func(_ *testing.T, reg *testimage.Registry) {
				reg.ServeBlob(last, func(w http.ResponseWriter, r *http.Request) {
					_, _ = w.Write(make([]byte, 1024))
					w.(http.Flusher).Flush()
					<-r.Context().Done()
				})
			},
			wantMsg: "stall_timeout"},
		{name: "a layer whose bytes do not match its digest",
			serve: func(_ *testing.T, reg *testimage.Registry) {
				reg.ServeBlob(last, func(w http.ResponseWriter, _ *http.Request) {
					_, _ = w.Write(bytes.Repeat([]byte{'x'}, int(manifest.Layers[len(manifest.Layers)-1].Size)))
				})
			},
			wantMsg: "unexpected commit digest"},
		{name: "a registry that does not answer in the pull's time", opts: PullOptions{Timeout: 200 * time.Millisecond},
			serve:  func(t *testing.T, reg *testimage.Registry) { t.Cleanup(reg.Hold("test/bounded").Open) },
			wantIs: context.DeadlineExceeded, wantMsg: "timed out"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, reg := testStore(t)
			s.Limits = c.limits
			ref := push(t, reg, "test/bounded:latest", img)
			if c.serve != nil {
				c.serve(t, reg)
			}
			_, err := s.Pull(context.Background(), ref, c.opts)
			if err == nil || (c.wantIs != nil && !errors.Is(err, c.wantIs)) || !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("got %v, want an error (%v) with %q", err, c.wantIs, c.wantMsg)
			}
			assertEmpty(t, s)
		})
	}
}

// A digest reference (repo@sha256:…) finds the image its repository's tag
// cached, as docker's RepoDigests do: --pull never uses it, --pull missing
// neither pulls it again nor keeps a second record, and another
// repository's image of the same digest is not it.
func TestStore_DigestReferenceFindsTheTagCachedImage(t *testing.T) {
	s, reg := testStore(t)
	ctx := context.Background()
	img := busyboxWith(t, "", 0)
	ref := push(t, reg, "test/bydigest:1.0", img)
	cached := pullOK(t, s, ref)
	d, _ := img.Digest()
	byDigest := strings.TrimSuffix(ref, ":1.0") + "@" + d.String()
	for _, pull := range []PullPolicy{PullNever, PullMissing} {
		reg.Reset()
		got, err := s.Ensure(ctx, byDigest, pull, PullOptions{})
		if err != nil {
			t.Fatalf("--pull %s %s: %v", pull, byDigest, err)
		}
		if got.ID != cached.ID || got.Name != byDigest {
			t.Errorf("--pull %s: got %s (%s), want the cached %s under %s", pull, got.Name, got.ID, cached.ID, byDigest)
		}
		if blobs := reg.BlobGets("test/bydigest"); len(blobs) != 0 {
			t.Errorf("--pull %s fetched %v again", pull, blobs)
		}
	}
	if listed, err := s.List(ctx); err != nil || len(listed) != 1 || listed[0].Name != ref {
		t.Errorf("listed %v (%v): want only the tag's record", listed, err)
	}
	other := strings.Replace(byDigest, "test/bydigest@", "test/other@", 1)
	if _, err := s.Ensure(ctx, other, PullNever, PullOptions{}); err == nil {
		t.Errorf("%s was found: another repository's digest is not this image", other)
	}
}

// TestUnmountStale_RemovesWhatAKilledSessionLeft: a temporary mount a
// dockless killed in a session left in tmpmounts (a layer's first snapshot
// bind-mounted for its unpack) is unmounted and removed by the next
// session, which holds the node-wide lock under which alone they exist.
func TestUnmountStale_RemovesWhatAKilledSessionLeft(t *testing.T) {
	needRoot(t)
	s, _ := testStore(t)
	tmp := filepath.Join(s.Root(), "tmpmounts")
	src, left := t.TempDir(), filepath.Join(tmp, "containerd-mount123")
	if err := os.MkdirAll(left, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(src, left, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(left, unix.MNT_DETACH) })
	if _, err := s.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := mountsUnder(t, tmp); len(m) != 0 {
		t.Errorf("mounts left under tmpmounts: %v", m)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("the stale mount point is still there: %v", err)
	}
}
