package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The shared layer cache ([store] shared_cache): "nodes" are envs with
// store roots of their own, sharing one cache directory, pulling from the
// loopback registry, which counts the requests.

// sharedCache names a cache directory (not created yet: dockless creates
// it) and writes a policy naming it.
func sharedCache(t *testing.T) (dir, policy string) {
	t.Helper()
	return sharedCacheAt(t, filepath.Join(openTempDir(t), "cache")) // users reach the cache: its modes keep them out
}

// sharedCacheAt writes a policy naming dir as the shared cache (it skips
// the test on a kernel without EROFS, where the cache is not used).
func sharedCacheAt(t *testing.T, dir string) (string, string) {
	t.Helper()
	if fs, err := os.ReadFile("/proc/filesystems"); err != nil || !strings.Contains(string(fs), "\terofs\n") {
		t.Skip("the kernel has no EROFS: nodes pull as without the shared cache")
	}
	base := t.TempDir()
	policy := filepath.Join(base, "dockless.toml")
	if err := os.WriteFile(policy, []byte(fmt.Sprintf("[store]\nshared_cache = %q\n", dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, policy
}

// cacheTestImage is busybox with a layer of files (one of two names: a
// hard link) and a layer that whites one out, makes a directory opaque
// and adds a setuid file, a symlink and a file of another owner.
func cacheTestImage(t *testing.T, env string) v1.Image {
	return busyboxPlus(t, env, []testimage.File{
		{Name: "data", Dir: true, Mode: 0o755},
		{Name: "data/a", Mode: 0o644, Body: []byte("alpha\n")},
		{Name: "data/hard", Mode: 0o644, Hardlink: "data/a"},
		{Name: "data/gone", Mode: 0o644, Body: []byte("gone\n")},
		{Name: "data/opq", Dir: true, Mode: 0o750, UID: 1000, GID: 100},
		{Name: "data/opq/old", Mode: 0o600, Body: []byte("old\n")},
	}, []testimage.File{
		{Name: "data/.wh.gone", Mode: 0o644},
		{Name: "data/opq/.wh..wh..opq", Mode: 0o644},
		{Name: "data/opq/new", Mode: 0o640, UID: 1000, GID: 2000, Body: []byte("new\n")},
		{Name: "data/suid", Mode: 0o4755, Body: []byte("#!/bin/sh\n")},
		{Name: "data/link", Linkname: "a"},
	})
}

// listing is what a container of the image sees of its files (not the
// sizes of directories, which differ between file systems, nor their
// times, which the unpack sets), and whether the hard link is one.
const listing = "find /data /bin/busybox /etc/passwd | sort | while read f; do if [ -d \"$f\" ]; then stat -c '%n %A %u %g' \"$f\"; else stat -c '%n %A %u %g %s %Y' \"$f\"; fi; done; cat /data/a /data/opq/new; ls -a / /bin | grep -c '^\\.\\.\\?$'; " + hardLinkCheck

// hardLinkCheck prints hardLinked when the image's two names of one file
// are one inode, with two links, in the container.
const hardLinkCheck = `if [ "$(stat -c %i /data/a)" = "$(stat -c %i /data/hard)" ]; then echo "/data/a and /data/hard: one inode, links $(stat -c %h /data/a)"; fi`

// hardLinked is what hardLinkCheck prints where the link is kept.
const hardLinked = "/data/a and /data/hard: one inode, links 2"

// layerGets counts the registry's GETs of the image's layers.
func layerGets(t *testing.T, repo string, img v1.Image) map[string]int {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	gets := reg.BlobGets(repo)
	out := map[string]int{}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out[d.String()] = gets[d.String()]
	}
	return out
}

// cacheFiles checks the cache's modes (directories 0711, files 0600,
// root's) and that no temporary file is left, and returns the layer
// files.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	var layers []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o711
		}
		if fi.Mode().Perm() != want || st.Uid != 0 {
			t.Errorf("%s: mode %04o uid %d, want %04o root's", p, fi.Mode().Perm(), st.Uid, want)
		}
		if strings.HasPrefix(fi.Name(), ".tmp-") {
			t.Errorf("temporary file left in the cache: %s", p)
		}
		if strings.HasSuffix(p, ".erofs") {
			layers = append(layers, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(layers)
	return layers
}

// TestSharedCache_SecondNodeDownloadsNoLayer: the first node pulls,
// unpacks and publishes each layer; the second downloads none of them,
// mounts the cache's files and its container sees the same files; the
// cache is root's alone; a node without the cache sees the same too.
func TestSharedCache_SecondNodeDownloadsNoLayer(t *testing.T) {
	dir, pol := sharedCache(t)
	img := cacheTestImage(t, "CACHE=1")
	ref, err := reg.Push("cache/first:latest", img)
	if err != nil {
		t.Fatal(err)
	}
	node1, node2, plain := newEnv(t), newEnv(t), newEnv(t)
	want := plain.mustRun("run", "--rm", ref, "sh", "-c", listing)
	reg.Reset()
	if got := node1.mustRun("--policy", pol, "run", "--rm", ref, "sh", "-c", listing); got != want {
		t.Errorf("the publishing node's container sees\n%s\nwant\n%s", got, want)
	}
	for l, n := range layerGets(t, "cache/first", img) {
		if n != 1 {
			t.Errorf("the first node fetched layer %s %d times, want once", l, n)
		}
	}
	layers, _ := img.Layers()
	if files := cacheFiles(t, dir); len(files) != len(layers) {
		t.Fatalf("cache holds %v, want one file for each of the %d layers", files, len(layers))
	}

	reg.Reset()
	got := node2.mustRun("--policy", pol, "run", "--rm", ref, "sh", "-c", listing)
	if got != want {
		t.Errorf("the second node's container sees\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(got, hardLinked) {
		t.Errorf("the second node's container (every layer from the cache) does not see the hard link:\n%s", got)
	}
	for l, n := range layerGets(t, "cache/first", img) {
		if n != 0 {
			t.Errorf("the second node fetched layer %s %d times, want never", l, n)
		}
	}
	for _, f := range filesIn(t, node2.root, "snapshots/snapshots") {
		if filepath.Base(f) != "erofs" { // the markers of cached layers
			t.Errorf("the second node unpacked %s", f)
		}
	}
	// A user may not read the cache.
	for _, f := range cacheFiles(t, dir) {
		cat := exec.Command("cat", f)
		cat.SysProcAttr = asUserAttr(alice)
		if out, err := cat.CombinedOutput(); err == nil || !strings.Contains(string(out), "Permission denied") {
			t.Errorf("a user reads the cache file %s: %v %s", f, err, out)
		}
	}
}

// TestSharedCache_FlippedByteFallsBack: a cache file whose bytes no longer
// match its sidecar is not mounted: the node pulls that layer from the
// registry, says so, and its container sees the image; the publisher
// replaces the file.
func TestSharedCache_FlippedByteFallsBack(t *testing.T) {
	dir, pol := sharedCache(t)
	img := cacheTestImage(t, "CACHE=2")
	ref, err := reg.Push("cache/flip:latest", img)
	if err != nil {
		t.Fatal(err)
	}
	node1, node2 := newEnv(t), newEnv(t)
	want := node1.mustRun("--policy", pol, "run", "--rm", ref, "sh", "-c", listing)
	files := cacheFiles(t, dir)
	layers, _ := img.Layers()
	if len(files) != len(layers) {
		t.Fatalf("cache holds %v, want %d files", files, len(layers))
	}
	top, _ := layers[len(layers)-1].DiffID()
	flipped := filepath.Join(dir, "sha256", top.Hex[:2], top.Hex+".erofs")
	b, err := os.ReadFile(flipped)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(flipped, b, 0o600); err != nil {
		t.Fatal(err)
	}

	reg.Reset()
	r := node2.run("--policy", pol, "run", "--rm", ref, "sh", "-c", listing)
	if r.code != 0 || r.stdout != want {
		t.Fatalf("after a flipped byte: %s\nwant stdout\n%s", r, want)
	}
	if !strings.Contains(r.stderr, "fails its check") || !strings.Contains(r.stderr, top.String()) {
		t.Errorf("no log line names the failed check of %s: %s", top, r.stderr)
	}
	top1, _ := layers[len(layers)-1].Digest()
	for l, n := range layerGets(t, "cache/flip", img) {
		if want := map[bool]int{true: 1, false: 0}[l == top1.String()]; n != want {
			t.Errorf("layer %s fetched %d times, want %d", l, n, want)
		}
	}
	b2, err := os.ReadFile(flipped)
	if err != nil || string(b2) == string(b) {
		t.Errorf("the corrupt cache file was not replaced (%v)", err)
	}
	cacheFiles(t, dir)
}

// TestSharedCache_ConcurrentNodes: nodes pulling the same image at once
// fetch each layer once between them, convert each once, and see the
// same files. The cache directory exists, root's but listable by all
// (0755, as t.TempDir makes it): dockless makes it 0711.
func TestSharedCache_ConcurrentNodes(t *testing.T) {
	dir, pol := sharedCacheAt(t, openTempDir(t))
	img := cacheTestImage(t, "CACHE=3")
	ref, err := reg.Push("cache/storm:latest", img)
	if err != nil {
		t.Fatal(err)
	}
	nodes := []*env{newEnv(t), newEnv(t), newEnv(t)}
	reg.Reset()
	results := make([]result, len(nodes))
	var wg sync.WaitGroup
	for i, e := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.run("--debug", "--policy", pol, "pull", ref)
		}()
	}
	wg.Wait()
	published := 0
	for _, r := range results {
		if r.code != 0 {
			t.Fatalf("pull: %s", r)
		}
		published += strings.Count(r.stderr, "shared cache: published layer")
	}
	layers, _ := img.Layers()
	if published != len(layers) {
		t.Errorf("%d conversions for %d layers, want one each", published, len(layers))
	}
	for l, n := range layerGets(t, "cache/storm", img) {
		if n > 1 {
			t.Errorf("layer %s fetched %d times by the nodes, want at most once", l, n)
		}
	}
	if files := cacheFiles(t, dir); len(files) != len(layers) {
		t.Errorf("cache holds %v, want %d files", files, len(layers))
	}
	var first string
	for i, e := range nodes {
		got := e.mustRun("--policy", pol, "run", "--rm", ref, "sh", "-c", listing)
		if i == 0 {
			first = got
		} else if got != first {
			t.Errorf("node %d sees\n%s\nnode 0\n%s", i, got, first)
		}
	}
}

// TestSharedCache_PublishAheadAndPrune: root publishes an image a node
// pulled without the cache; another node then downloads none of its
// layers. image prune leaves the cache alone; image cache prune removes
// what no node used for the age given, and only that.
func TestSharedCache_PublishAheadAndPrune(t *testing.T) {
	dir, pol := sharedCache(t)
	img := cacheTestImage(t, "CACHE=4")
	ref, err := reg.Push("cache/ahead:latest", img)
	if err != nil {
		t.Fatal(err)
	}
	node0, node1 := newEnv(t), newEnv(t)
	node0.mustRun("pull", ref)
	out := node0.mustRun("--policy", pol, "image", "publish", ref)
	layers, _ := img.Layers()
	if n := strings.Count(out, ": published\n"); n != len(layers) {
		t.Errorf("image publish: %q, want %d layers published", out, len(layers))
	}
	if out := node0.mustRun("--policy", pol, "image", "publish", ref); strings.Count(out, ": already in the shared cache\n") != len(layers) {
		t.Errorf("image publish again: %q, want every layer already there", out)
	}
	reg.Reset()
	want := node0.mustRun("run", "--rm", ref, "sh", "-c", listing)
	if got := node1.mustRun("--policy", pol, "run", "--rm", ref, "sh", "-c", listing); got != want {
		t.Errorf("the node using the published layers sees\n%s\nwant\n%s", got, want)
	}
	for l, n := range layerGets(t, "cache/ahead", img) {
		if n != 0 {
			t.Errorf("layer %s fetched %d times after image publish, want never", l, n)
		}
	}
	node1.mustRun("--policy", pol, "image", "prune", "-a")
	files := cacheFiles(t, dir)
	if len(files) != len(layers) {
		t.Fatalf("after image prune the cache holds %v, want %d layers", files, len(layers))
	}

	if out := node1.mustRun("--policy", pol, "image", "cache", "prune", "--age", "1h"); out != "" {
		t.Errorf("image cache prune removed fresh layers: %q", out)
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, f := range files[1:] {
		if err := os.Chtimes(f, old, old); err != nil {
			t.Fatal(err)
		}
	}
	out = node1.mustRun("--policy", pol, "image", "cache", "prune", "--age", "1h")
	if left := cacheFiles(t, dir); len(left) != 1 || left[0] != files[0] {
		t.Errorf("image cache prune (%q) left %v, want only %s", out, left, files[0])
	}
	node1.writePolicy(fmt.Sprintf("shared_cache = %q\n", dir))
	if r := node1.runAs(alice, openTempDir(t), nil, "image", "cache", "prune", "--age", "0s"); r.code == 0 || !strings.Contains(r.stderr, "only root") {
		t.Errorf("a user prunes the shared cache: %s", r)
	}
	if left := cacheFiles(t, dir); len(left) != 1 {
		t.Errorf("after a user's prune the cache holds %v", left)
	}
}

// TestSharedCache_PublisherKilledMidConversion: a publisher killed while it
// writes a layer leaves no cache file that is not whole; the next node
// publishes the layer and removes what the dead one left.
func TestSharedCache_PublisherKilledMidConversion(t *testing.T) {
	dir, pol := sharedCache(t)
	img := busyboxPlus(t, "CACHE=5", []testimage.File{randomFile(t, "big", 96<<20)})
	ref, err := reg.Push("cache/killed:latest", img)
	if err != nil {
		t.Fatal(err)
	}
	node1, node2 := newEnv(t), newEnv(t)
	pull := exec.Command(binary, "--root", node1.root, "--state", node1.state, "--policy", pol, "pull", ref)
	var out bytes.Buffer
	pull.Stdout, pull.Stderr = &out, &out
	if err := pull.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pull.Wait() }()
	layers, _ := img.Layers()
	big, _ := layers[len(layers)-1].DiffID()
	temps := filepath.Join(dir, "sha256", big.Hex[:2], ".tmp-"+big.Hex+"*")
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case err := <-done:
			t.Fatalf("the pull ended before it wrote the big layer's cache file: %v: %s", err, out.String())
		case <-tick.C:
			if m, _ := filepath.Glob(temps); len(m) > 0 {
				break wait
			}
		}
	}
	if err := pull.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	bigFile := filepath.Join(dir, "sha256", big.Hex[:2], big.Hex+".erofs")
	if _, err := os.Stat(bigFile); err == nil {
		t.Fatalf("the killed publisher's layer is in the cache (the test kills too late)")
	}
	if m, _ := filepath.Glob(temps); len(m) == 0 {
		t.Fatalf("the killed publisher left no temporary file (the test kills too late)")
	}

	if got := node2.mustRun("--policy", pol, "run", "--rm", ref, "wc", "-c", "/big"); got != strconv.Itoa(96<<20)+" /big\n" {
		t.Errorf("the next node's container: %q", got)
	}
	files := cacheFiles(t, dir) // no temporary file left
	if len(files) != len(layers) {
		t.Errorf("cache holds %v, want %d layers", files, len(layers))
	}
	reg.Reset()
	node3 := newEnv(t)
	if got := node3.mustRun("--policy", pol, "run", "--rm", ref, "wc", "-c", "/big"); got != strconv.Itoa(96<<20)+" /big\n" {
		t.Errorf("a node using the republished layer: %q", got)
	}
	for l, n := range layerGets(t, "cache/killed", img) {
		if n != 0 {
			t.Errorf("layer %s fetched %d times after it was republished, want never", l, n)
		}
	}
}

// TestSharedCache_PrivateImageNeedsTheCallersCredentials: alice's run of
// a private image publishes its layers; on another node bob, without
// credentials, gets nothing of them (the pull is refused before the
// cache is asked), and alice's run there downloads no layer.
func TestSharedCache_PrivateImageNeedsTheCallersCredentials(t *testing.T) {
	dir, _ := sharedCache(t)
	img := cacheTestImage(t, "CACHE=private")
	ref, err := reg.Push("private/cache:latest", img)
	if err != nil {
		t.Fatal(err)
	}
	reg.SetAuth("bearer", "alice-reg", "s3cret")
	t.Cleanup(func() { reg.SetAuth("", "", "") })
	for _, u := range []testUser{alice, bob} {
		os.RemoveAll(filepath.Join(u.Home, ".docker"))
	}
	node1, node2 := newEnv(t), newEnv(t)
	node1.writePolicy(fmt.Sprintf("shared_cache = %q\n", dir))
	if r := node1.loginAs(alice, "alice-reg", "s3cret"); r.code != 0 {
		t.Fatalf("alice logs in: %s", r)
	}
	t.Cleanup(func() { node1.runAs(alice, alice.Home, nil, "logout", reg.Addr) })
	if r := node1.runAs(alice, alice.Home, nil, "run", "--rm", "-q", ref, "cat", "/data/a"); r.code != 0 || r.stdout != "alpha\n" {
		t.Fatalf("alice runs her private image: %s", r)
	}
	layers, _ := img.Layers()
	if files := cacheFiles(t, dir); len(files) != len(layers) {
		t.Fatalf("cache holds %v, want %d layers", files, len(layers))
	}

	node2.writePolicy(fmt.Sprintf("shared_cache = %q\n", dir))
	reg.Reset()
	if r := node2.runAs(bob, bob.Home, nil, "run", "--rm", "-q", ref, "cat", "/data/a"); r.code != 125 || !strings.Contains(r.stderr, "does not let you pull") {
		t.Fatalf("bob runs alice's private image from the shared cache: %s", r)
	}
	if snaps := filesIn(t, node2.root, "snapshots/snapshots"); len(snaps) != 0 {
		t.Errorf("bob's refused run took layers: %v", snaps)
	}
	if r := node2.runAs(alice, alice.Home, nil, "run", "--rm", "-q", ref, "cat", "/data/a"); r.code != 0 || r.stdout != "alpha\n" {
		t.Fatalf("alice on the second node: %s", r)
	}
	for l, n := range layerGets(t, "private/cache", img) {
		if n != 0 {
			t.Errorf("layer %s fetched %d times on the second node, want never", l, n)
		}
	}
}

// TestSharedCache_NewLayerOnCachedLayers: an image that adds a layer to
// one in the cache downloads only that layer, unpacked on the cached ones
// (a directory the new layer does not list keeps the owner and mode it
// has below), and publishes it.
func TestSharedCache_NewLayerOnCachedLayers(t *testing.T) {
	dir, pol := sharedCache(t)
	base := cacheTestImage(t, "CACHE=6")
	ref, err := reg.Push("cache/base:latest", base)
	if err != nil {
		t.Fatal(err)
	}
	more := busyboxPlus(t, "CACHE=6", []testimage.File{
		{Name: "data", Dir: true, Mode: 0o755},
		{Name: "data/a", Mode: 0o644, Body: []byte("alpha\n")},
		{Name: "data/hard", Mode: 0o644, Hardlink: "data/a"},
		{Name: "data/gone", Mode: 0o644, Body: []byte("gone\n")},
		{Name: "data/opq", Dir: true, Mode: 0o750, UID: 1000, GID: 100},
		{Name: "data/opq/old", Mode: 0o600, Body: []byte("old\n")},
	}, []testimage.File{
		{Name: "data/.wh.gone", Mode: 0o644},
		{Name: "data/opq/.wh..wh..opq", Mode: 0o644},
		{Name: "data/opq/new", Mode: 0o640, UID: 1000, GID: 2000, Body: []byte("new\n")},
		{Name: "data/suid", Mode: 0o4755, Body: []byte("#!/bin/sh\n")},
		{Name: "data/link", Linkname: "a"},
	}, []testimage.File{
		{Name: "data/opq/extra", Mode: 0o644, Body: []byte("extra\n")},
	})
	moreRef, err := reg.Push("cache/base:more", more)
	if err != nil {
		t.Fatal(err)
	}
	node1, node2, plain := newEnv(t), newEnv(t), newEnv(t)
	node1.mustRun("--policy", pol, "pull", ref)
	want := plain.mustRun("run", "--rm", moreRef, "sh", "-c", listing+"; stat -c '%n %A %u %g' /data/opq/extra")
	reg.Reset()
	if got := node2.mustRun("--policy", pol, "run", "--rm", moreRef, "sh", "-c", listing+"; stat -c '%n %A %u %g' /data/opq/extra"); got != want {
		t.Errorf("the new layer on cached ones:\n%s\nwant\n%s", got, want)
	}
	layers, _ := more.Layers()
	top, _ := layers[len(layers)-1].Digest()
	for l, n := range layerGets(t, "cache/base", more) {
		if want := map[bool]int{true: 1, false: 0}[l == top.String()]; n != want {
			t.Errorf("layer %s fetched %d times, want %d", l, n, want)
		}
	}
	if files := cacheFiles(t, dir); len(files) != len(layers) {
		t.Errorf("cache holds %d layers, want %d (the new one published)", len(files), len(layers))
	}
}

// TestSharedCache_KernelWithoutErofsPullsAsBefore: on a node whose kernel
// has no EROFS (here: dockless in a mount namespace of its own, where
// /proc/filesystems is a list without erofs and no module is found), the
// shared cache is not used, with one log line saying why: the node
// downloads and unpacks every layer into overlay's snapshots, publishes
// nothing, and its container sees the same files as the node that
// published the layers.
func TestSharedCache_KernelWithoutErofsPullsAsBefore(t *testing.T) {
	dir, pol := sharedCache(t)
	img := cacheTestImage(t, "CACHE=noerofs")
	ref, err := reg.Push("cache/noerofs:latest", img)
	if err != nil {
		t.Fatal(err)
	}
	node1, node2 := newEnv(t), newEnv(t)
	want := node1.mustRun("--policy", pol, "run", "--rm", ref, "sh", "-c", listing)
	published := cacheFiles(t, dir)

	noErofs := filepath.Join(t.TempDir(), "filesystems")
	if err := os.WriteFile(noErofs, []byte("nodev\tproc\nnodev\toverlay\n\text4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// No module either: an empty directory over /lib/modules, where it is.
	withoutErofs := func(cmd *exec.Cmd) {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Fatal(err)
		}
		cmd.Args = append([]string{"unshare", "-m", "--propagation", "private", "--", "sh", "-c",
			`mount --bind "$0" /proc/filesystems && { [ ! -d /lib/modules ] || mount --bind "$1" /lib/modules; } && shift && exec "$@"`,
			noErofs, t.TempDir()}, cmd.Args...)
		cmd.Path = unshare
	}
	reg.Reset()
	r := node2.runWith(withoutErofs, "--policy", pol, "run", "--rm", ref, "sh", "-c", listing)
	if r.code != 0 || r.stdout != want {
		t.Fatalf("without EROFS: %s\nwant stdout\n%s", r, want)
	}
	if n := strings.Count(r.stderr, "kernel has no EROFS"); n != 1 {
		t.Errorf("%d log lines say the kernel has no EROFS, want one: %s", n, r.stderr)
	}
	for l, n := range layerGets(t, "cache/noerofs", img) {
		if n != 1 {
			t.Errorf("the node without EROFS fetched layer %s %d times, want once", l, n)
		}
	}
	for _, f := range filesIn(t, node2.root, "snapshots/snapshots") {
		if filepath.Base(f) == "erofs" {
			t.Errorf("the node without EROFS has a cached layer's marker: %s", f)
		}
	}
	if got := cacheFiles(t, dir); !slices.Equal(got, published) {
		t.Errorf("the node without EROFS changed the cache: %v, was %v", got, published)
	}
}
