package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The node's image store is shared by every user: these tests are one
// user's attacks on it, through the setuid build, and what the others
// see after.

// TestSuid_CachedPrivateImageStaysPrivate: alice pulls a private image
// with her credentials; bob, without any, can neither run it from the
// cache (by name with --pull never, by the ID root's listing shows) nor
// see it in images, nor, trusted, remove it. With credentials the registry
// accepts he is checked there and may; [registry] offline trusts the
// cache for everyone.
func TestSuid_CachedPrivateImageStaysPrivate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.writePolicy("")
		img, err := testimage.Busybox(testimage.Options{Env: []string{"SECRET=store"}})
		if err != nil {
			t.Fatal(err)
		}
		ref, err := reg.Push("private/store:1", img)
		if err != nil {
			t.Fatal(err)
		}
		e.mustRun("pull", "-q", busybox) // anonymous: public
		e.pullPrivately(alice, ref)
		id := imageID(t, e.mustRun("images"), "private/store")

		for _, c := range []struct {
			name string
			args []string
			want string
		}{
			{"by name, --pull never", []string{"run", "--rm", "-q", "--pull", "never", ref, "echo", "ran"}, "does not let you pull"},
			{"by name, --pull missing", []string{"run", "--rm", "-q", ref, "echo", "ran"}, "does not let you pull"},
			{"by ID, --pull never", []string{"run", "--rm", "-q", "--pull", "never", id, "echo", "ran"}, "not in the node store"},
			{"by full ID, --pull never", []string{"run", "--rm", "-q", "--pull", "never", "sha256:" + id, "echo", "ran"}, "not in the node store"},
		} {
			if r := e.runAs(bob, bob.Home, nil, c.args...); r.code != 125 || strings.Contains(r.stdout, "ran") || !strings.Contains(r.stderr, c.want) {
				t.Errorf("bob runs alice's private image %s: %s", c.name, r)
			}
		}
		for _, args := range [][]string{{"images"}, {"images", "-q"}} {
			r := e.runAs(bob, bob.Home, nil, args...)
			if r.code != 0 || strings.Contains(r.stdout, "private/store") || strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, imageID(t, e.mustRun("images"), "test/busybox")) {
				t.Errorf("bob's %v lists alice's private image, or not the public one: %s", args, r)
			}
		}
		if r := e.runAs(bob, bob.Home, nil, "run", "--rm", "-q", "--pull", "never", busybox, "echo", "public"); r.code != 0 || r.stdout != "public\n" {
			t.Errorf("bob runs a public cached image with --pull never: %s", r)
		}
		e.writePolicy("[callers]\ntrusted = [\"dltest-bob\"]\n")
		for _, name := range []string{ref, id} {
			if r := e.runAs(bob, bob.Home, nil, "rmi", name); r.code != 125 || !strings.Contains(r.stderr, "no such image") {
				t.Errorf("bob, trusted, removes alice's private image by %s: %s", name, r)
			}
		}
		if !strings.Contains(e.mustRun("images"), "private/store") {
			t.Fatal("bob removed alice's private image")
		}
		e.writePolicy("")

		if r := e.runAs(alice, alice.Home, nil, "images"); r.code != 0 || !strings.Contains(r.stdout, "private/store") {
			t.Errorf("alice lists her image: %s", r)
		}
		if r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", "--pull", "never", id, "sh", "-c", "echo $SECRET"); r.code != 0 || r.stdout != "store\n" {
			t.Errorf("alice runs her image by ID: %s", r)
		}

		e.writePolicy("[registry]\noffline = true\n")
		if r := e.runAs(bob, bob.Home, nil, "run", "--rm", "-q", "--pull", "never", ref, "sh", "-c", "echo $SECRET"); r.code != 0 || r.stdout != "store\n" {
			t.Errorf("[registry] offline trusts the cache for everyone: %s", r)
		}
		e.writePolicy("")

		if r := e.loginAs(bob, "alice-reg", "s3cret"); r.code != 0 {
			t.Fatalf("bob logs in: %s", r)
		}
		before := sum(reg.BlobGets("private/store"))
		if r := e.runAs(bob, bob.Home, nil, "run", "--rm", "-q", "--pull", "never", ref, "sh", "-c", "echo $SECRET"); r.code != 0 || r.stdout != "store\n" {
			t.Errorf("bob, whose credentials the registry accepts, runs it from the cache: %s", r)
		}
		if after := sum(reg.BlobGets("private/store")); after != before {
			t.Errorf("--pull never downloaded blobs (%d -> %d)", before, after)
		}
		if r := e.runAs(bob, bob.Home, nil, "images"); r.code != 0 || !strings.Contains(r.stdout, "private/store") {
			t.Errorf("bob lists the image once the registry let him: %s", r)
		}
		if r := e.runAs(bob, bob.Home, nil, "logout", reg.Addr); r.code != 0 {
			t.Fatalf("bob logs out: %s", r)
		}
		if r := e.runAs(bob, bob.Home, nil, "run", "--rm", "-q", ref, "true"); r.code != 125 {
			t.Errorf("after logout bob is refused again: %s", r)
		}
		if r := e.runAs(bob, bob.Home, nil, "run", "--rm", "-q", "--pull", "never", ref, "true"); r.code != 125 {
			t.Errorf("a refusal takes bob's right to the cached copy away: %s", r)
		}
	})
}

// pullPrivately turns on the registry's auth for private/ (alice-reg,
// s3cret), logs u in and pulls ref as u; the test users start and end
// without a docker config.
func (e *env) pullPrivately(u testUser, ref string) {
	e.t.Helper()
	reg.SetAuth("bearer", "alice-reg", "s3cret")
	e.t.Cleanup(func() { reg.SetAuth("", "", "") })
	for _, u := range []testUser{alice, bob} {
		os.RemoveAll(filepath.Join(u.Home, ".docker"))
		e.t.Cleanup(func() { os.RemoveAll(filepath.Join(u.Home, ".docker")) })
	}
	if r := e.loginAs(u, "alice-reg", "s3cret"); r.code != 0 {
		e.t.Fatalf("%s logs in: %s", u.Name, r)
	}
	if r := e.runAs(u, u.Home, nil, "pull", "-q", ref); r.code != 0 {
		e.t.Fatalf("%s pulls the private image: %s", u.Name, r)
	}
}

// imageID is the IMAGE ID column of the images line of repo.
func imageID(t *testing.T, list, repo string) string {
	t.Helper()
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && strings.HasSuffix(f[0], repo) {
			return f[2]
		}
	}
	t.Fatalf("no %s in %q", repo, list)
	return ""
}

// TestSuid_WrongBytesFromOneRegistryDoNotPoisonTheStore: bob's registry
// serves other bytes for a real layer's digest; his pull fails, and
// alice's pull of the genuine image from the genuine registry works, and
// nothing of bob's download is left.
func TestSuid_WrongBytesFromOneRegistryDoNotPoisonTheStore(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.writePolicy("")
		img, err := testimage.Busybox(testimage.Options{Env: []string{"GENUINE=1"}})
		if err != nil {
			t.Fatal(err)
		}
		ref, evil, evilRef, layer := twoRegistries(t, img, "test/poison:1")
		evil.ServeBlob(layer.digest, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", strconv.FormatInt(layer.size, 10))
			_, _ = w.Write(bytes.Repeat([]byte{'x'}, int(layer.size)))
		})
		if r := e.runAs(bob, bob.Home, nil, "pull", evilRef); r.code != 125 || !strings.Contains(r.stderr, "digest") {
			t.Fatalf("bob pulls from a registry serving wrong bytes: %s", r)
		}
		if r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", ref, "sh", "-c", "echo $GENUINE"); r.code != 0 || r.stdout != "1\n" {
			t.Fatalf("alice pulls the genuine image after bob's failed pull: %s", r)
		}
		e.mustRun("image", "prune", "-a")
		if left := downloadsLeft(t, e); len(left) != 0 {
			t.Errorf("downloads left after image prune -a: %v", left)
		}
	})
}

// TestSuid_StalledDownloadDoesNotHoldUpOthers: bob's registry sends half
// a layer and then nothing; alice's pull of the same layer from the
// genuine registry does not wait for bob's download (stall_timeout 2s),
// and bob's pull gives up.
func TestSuid_StalledDownloadDoesNotHoldUpOthers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.writePolicy("[registry]\nstall_timeout = \"2s\"\n")
		img, err := testimage.Busybox(testimage.Options{Env: []string{"STALL=1"}})
		if err != nil {
			t.Fatal(err)
		}
		ref, evil, evilRef, layer := twoRegistries(t, img, "test/stall:1")
		stalled, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		evil.ServeBlob(layer.digest, func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Length", strconv.FormatInt(layer.size, 10))
			_, _ = w.Write(layer.data[:layer.size/2])
			w.(http.Flusher).Flush()
			once.Do(func() { close(stalled) })
			select {
			case <-release:
			case <-req.Context().Done():
			}
		})
		t.Cleanup(func() { close(release) })

		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		bobPull := exec.CommandContext(ctx, suidBinary, "pull", evilRef)
		bobPull.Dir, bobPull.SysProcAttr = bob.Home, asUserAttr(bob)
		var bobErr bytes.Buffer
		bobPull.Stderr = &bobErr
		if err := bobPull.Start(); err != nil {
			t.Fatal(err)
		}
		bobDone := make(chan error, 1)
		go func() { bobDone <- bobPull.Wait() }()
		select {
		case <-stalled:
		case err := <-bobDone:
			t.Fatalf("bob's pull ended before it stalled: %v: %s", err, bobErr.String())
		case <-time.After(30 * time.Second):
			t.Fatal("bob's pull never reached the layer")
		}

		start := time.Now()
		alicePull := exec.CommandContext(ctx, suidBinary, "pull", "-q", ref)
		alicePull.Dir, alicePull.SysProcAttr = alice.Home, asUserAttr(alice)
		if r := runCmd(t, alicePull); r.code != 0 || time.Since(start) > 30*time.Second {
			t.Fatalf("alice's pull of the layer bob's stalled download holds (after %s): %s", time.Since(start), r)
		}
		select {
		case err := <-bobDone:
			if err == nil || !strings.Contains(bobErr.String(), "given up") {
				t.Errorf("bob's stalled pull: %v: %s", err, bobErr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("bob's stalled pull did not give up")
		}
		if r := e.runAs(alice, alice.Home, nil, "run", "--rm", "-q", "--pull", "never", ref, "sh", "-c", "echo $STALL"); r.code != 0 || r.stdout != "1\n" {
			t.Errorf("alice's image: %s", r)
		}
		e.mustRun("image", "prune", "-a")
		if left := downloadsLeft(t, e); len(left) != 0 {
			t.Errorf("downloads left after image prune -a: %v", left)
		}
	})
}

// TestSuid_BrokenImageDoesNotStopListings: a pull whose layer does not
// unpack (not a tar archive) records nothing: every user's images, and
// image prune, still work and show the other images.
func TestSuid_BrokenImageDoesNotStopListings(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.writePolicy("")
		e.mustRun("pull", "-q", busybox)
		img, err := testimage.Busybox(testimage.Options{Raw: []byte(strings.Repeat("this is not a tar archive\n", 64))})
		if err != nil {
			t.Fatal(err)
		}
		ref, err := reg.Push("test/corrupt:1", img)
		if err != nil {
			t.Fatal(err)
		}
		if r := e.runAs(alice, alice.Home, nil, "pull", ref); r.code != 125 || !strings.Contains(r.stderr, "unpacking") {
			t.Fatalf("a pull of an image whose layer is not a tar archive: %s", r)
		}
		for _, u := range []testUser{alice, bob} {
			if r := e.runAs(u, u.Home, nil, "images"); r.code != 0 || !strings.Contains(r.stdout, "test/busybox") || strings.Contains(r.stdout, "test/corrupt") {
				t.Errorf("%s's images after a failed unpack: %s", u.Name, r)
			}
		}
		if out := e.mustRun("image", "prune"); !strings.Contains(out, "Total: 0 ") {
			t.Errorf("image prune after a failed unpack: %q", out)
		}
	})
}

// TestSuid_PullWritesAreBounded: what one pull writes is bounded while it
// is written: a refused pull leaves nothing in the store.
func TestSuid_PullWritesAreBounded(t *testing.T) {
	zeros := make([]byte, 48<<20)
	for _, c := range []struct {
		// policy is TOML added to the [store] table.
		name, policy, want string
		// image returns the reference bob pulls.
		image func(t *testing.T, repo string) string
	}{
		{"gzip bomb", "max_image_size = \"16M\"\n", "unpacks to more than 16MiB", func(t *testing.T, repo string) string {
			img, err := testimage.Busybox(testimage.Options{Extra: []testimage.File{{Name: "zeros", Mode: 0o644, Body: zeros}}})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := reg.Push(repo, img)
			if err != nil {
				t.Fatal(err)
			}
			return ref
		}},
		{"many files", "max_image_files = 2000\n", "more than 2000 files ([store] max_image_files", func(t *testing.T, repo string) string {
			var files []testimage.File
			for i := range 3000 {
				files = append(files, testimage.File{Name: fmt.Sprintf("many/%d", i), Mode: 0o644})
			}
			img, err := testimage.Busybox(testimage.Options{Extra: files})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := reg.Push(repo, img)
			if err != nil {
				t.Fatal(err)
			}
			return ref
		}},
		{"layer declared huge", "", "declares more than 32GiB", func(t *testing.T, repo string) string {
			return tamperedManifest(t, repo, func(l map[string]any, _ []byte, r *testimage.Registry) {
				r.ServeBlob(l["digest"].(string), func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(zeros) })
				l["size"] = int64(1) << 40
			})
		}},
		{"blob longer than its descriptor", "", "expected size", func(t *testing.T, repo string) string {
			return tamperedManifest(t, repo, func(l map[string]any, data []byte, r *testimage.Registry) {
				longer := append(append([]byte(nil), data...), zeros...)
				r.ServeBlob(l["digest"].(string), func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(longer) })
			})
		}},
		{"layer digest that names a file", "", "invalid", func(t *testing.T, repo string) string {
			return tamperedManifest(t, repo, func(l map[string]any, _ []byte, _ *testimage.Registry) {
				l["digest"] = "sha256:../../../escaped"
			})
		}},
		{"less free space than the policy keeps", "min_free_space = \"1000T\"\n", "less than [store] min_free_space", func(t *testing.T, repo string) string {
			img, err := testimage.Busybox(testimage.Options{Env: []string{"FREE=1"}})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := reg.Push(repo, img)
			if err != nil {
				t.Fatal(err)
			}
			return ref
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, e *env) {
				e.writePolicy(c.policy)
				ref := c.image(t, fmt.Sprintf("test/bounded-%d:1", time.Now().UnixNano()))
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				pull := exec.CommandContext(ctx, suidBinary, "pull", ref)
				pull.Dir, pull.SysProcAttr = bob.Home, asUserAttr(bob)
				if r := runCmd(t, pull); r.code != 125 || !strings.Contains(r.stderr, c.want) {
					t.Fatalf("bob's pull: %s", r)
				}
				if out := e.mustRun("images"); strings.Count(out, "\n") != 1 {
					t.Errorf("images after a refused pull: %q", out)
				}
				if _, err := os.Stat(filepath.Join(filepath.Dir(e.root), "escaped")); err == nil {
					t.Error("a layer digest made root create a file outside the store")
				}
				left := downloadsLeft(t, e)
				for _, dir := range []string{"content/blobs/sha256", "content/ingest", "snapshots/snapshots"} {
					entries, _ := os.ReadDir(filepath.Join(e.root, dir))
					for _, en := range entries {
						left = append(left, filepath.Join(dir, en.Name()))
					}
				}
				if len(left) != 0 {
					t.Errorf("a refused pull left data in the store: %v", left)
				}
			})
		})
	}
}

// TestSuid_ShortLayerDigestIsRefusedOnATerminal: a manifest naming a
// layer by a digest too short to be one is refused where the progress
// bars print digests (a terminal) too, never with a panic.
func TestSuid_ShortLayerDigestIsRefusedOnATerminal(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	ref := tamperedManifest(t, "test/short:1", func(l map[string]any, _ []byte, _ *testimage.Registry) { l["digest"] = "sha256:abc" })
	cmd := exec.Command("script", "-qec", "stty cols 100 rows 40; "+suidBinary+" pull "+ref, "/dev/null")
	cmd.Dir, cmd.SysProcAttr = bob.Home, asUserAttr(bob)
	if r := runCmd(t, cmd); r.code != 125 || strings.Contains(r.stdout, "panic") || !strings.Contains(r.stdout, "invalid checksum digest") {
		t.Fatalf("a pull on a terminal of a layer with a short digest: %s", r)
	}
}

// blob is one layer of a test image.
type blob struct {
	digest string
	size   int64
	data   []byte
}

// layersOf returns img's layers as a registry serves them.
func layersOf(t *testing.T, img v1.Image) []blob {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []blob
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, blob{digest: d.String(), size: int64(buf.Len()), data: buf.Bytes()})
	}
	return out
}

// twoRegistries pushes img as repoTag to the genuine registry and to a
// registry of bob's, and returns both references, bob's registry and
// img's largest layer.
func twoRegistries(t *testing.T, img v1.Image, repoTag string) (ref string, evil *testimage.Registry, evilRef string, largest blob) {
	t.Helper()
	evil, err := testimage.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { evil.Close() })
	if ref, err = reg.Push(repoTag, img); err != nil {
		t.Fatal(err)
	}
	if evilRef, err = evil.Push(repoTag, img); err != nil {
		t.Fatal(err)
	}
	for _, l := range layersOf(t, img) {
		if l.size > largest.size {
			largest = l
		}
	}
	return ref, evil, evilRef, largest
}

// tamperedManifest pushes a busybox image as repoTag to a registry of
// bob's, and then a manifest for it whose last layer descriptor tamper
// changes (given the layer's bytes and the registry).
func tamperedManifest(t *testing.T, repoTag string, tamper func(layer map[string]any, data []byte, r *testimage.Registry)) string {
	t.Helper()
	evil, err := testimage.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { evil.Close() })
	img, err := testimage.Busybox(testimage.Options{Env: []string{"TAMPERED=" + repoTag}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evil.Push(repoTag, img); err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	layers := m["layers"].([]any)
	blobs := layersOf(t, img)
	tamper(layers[len(layers)-1].(map[string]any), blobs[len(blobs)-1].data, evil)
	if raw, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := evil.PushManifest(repoTag, m["mediaType"].(string), raw); err != nil {
		t.Fatal(err)
	}
	return evil.Ref(repoTag)
}

// downloadsLeft lists the downloads the store holds that no image uses:
// what the staging area holds, or a containerd daemon's active ingests.
func downloadsLeft(t *testing.T, e *env) []string {
	t.Helper()
	if e.containerd != "" {
		out, err := exec.Command("ctr", "--address", e.containerd, "--namespace", "dockless", "content", "active").CombinedOutput()
		if err != nil {
			t.Fatalf("ctr content active: %v: %s", err, out)
		}
		return strings.Fields(strings.Join(strings.Split(strings.TrimSpace(string(out)), "\n")[1:], " "))
	}
	var left []string
	for _, dir := range []string{"staging/ingest", "staging/blobs/sha256"} {
		entries, _ := os.ReadDir(filepath.Join(e.root, dir))
		for _, en := range entries {
			left = append(left, filepath.Join(dir, en.Name()))
		}
	}
	locks, _ := os.ReadDir(filepath.Join(e.root, "staging", "locks"))
	for _, en := range locks {
		if strings.HasPrefix(en.Name(), "ingest-") {
			left = append(left, filepath.Join("staging/locks", en.Name()))
		}
	}
	return left
}

// TestSuid_StoredBlobsAreTakenOnlyWithProof: a manifest of bob's own names
// the config and layers of alice's private image by their digests, and his
// registry cannot serve them. The store holds them, but bob may use no
// image that has them: his pull must fetch them (the bytes are the proof)
// and fails, so alice's secret never reaches him and no public image of it
// appears. An index he pulled first, whose amd64 entry is harmless and whose
// arm64 entry names alice's manifest, vouches for nothing it did not fetch.
// Once his registry can serve the bytes, his pull works.
func TestSuid_StoredBlobsAreTakenOnlyWithProof(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.writePolicy("")
		secret := fmt.Sprintf("alice-secret-%d", time.Now().UnixNano())
		img, err := testimage.Busybox(testimage.Options{Extra: []testimage.File{{Name: "secret.txt", Mode: 0o644, Body: []byte(secret)}}})
		if err != nil {
			t.Fatal(err)
		}
		tag := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
		private, err := reg.Push("private/proof:"+tag, img)
		if err != nil {
			t.Fatal(err)
		}
		steal, err := reg.Push("test/steal:"+tag, img)
		if err != nil {
			t.Fatal(err)
		}
		decoy := decoyIndex(t, img, "test/decoy:"+tag)
		e.pullPrivately(alice, private)
		config, err := img.ConfigName()
		if err != nil {
			t.Fatal(err)
		}
		// Alice's own blobs: her config and the layer of her secret (the
		// busybox layers below are everyone's).
		layers := layersOf(t, img)
		blobs := []string{config.String(), layers[len(layers)-1].digest}
		for _, d := range blobs {
			reg.ServeBlob(d, func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "blob unknown", http.StatusNotFound) })
			t.Cleanup(func() { reg.ServeBlob(d, nil) })
		}
		if r := e.runAs(bob, bob.Home, nil, "pull", "-q", decoy); r.code != 0 {
			t.Fatalf("bob pulls his index: %s", r)
		}
		r := e.runAs(bob, bob.Home, nil, "run", "--rm", "-q", steal, "cat", "/secret.txt")
		for _, d := range blobs {
			reg.ServeBlob(d, nil)
		}
		if r.code != 125 || strings.Contains(r.stdout, secret) {
			t.Fatalf("bob takes alice's private layers by their digests: %s", r)
		}
		if out := e.mustRun("images"); strings.Contains(out, "test/steal") {
			t.Fatalf("bob's failed pull recorded an image of alice's layers:\n%s", out)
		}
		if r := e.runAs(bob, bob.Home, nil, "run", "--rm", "-q", steal, "cat", "/secret.txt"); r.code != 0 || r.stdout != secret {
			t.Fatalf("bob's pull, once his registry serves the bytes: %s", r)
		}
	})
}

// decoyIndex pushes as repoTag an index whose amd64 entry is a harmless
// busybox and whose arm64 entry names the manifest of img (the registry
// wants both manifests in the repository; the blobs of img may then be
// refused by ServeBlob).
func decoyIndex(t *testing.T, img v1.Image, repoTag string) string {
	t.Helper()
	harmless, err := testimage.Busybox(testimage.Options{Env: []string{"HARMLESS=1"}})
	if err != nil {
		t.Fatal(err)
	}
	repo, tag, _ := strings.Cut(repoTag, ":")
	for suffix, i := range map[string]v1.Image{"-amd64": harmless, "-arm64": img} {
		if _, err := reg.Push(repo+":"+tag+suffix, i); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(i v1.Image, arch string) map[string]any {
		raw, err := i.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		d, err := i.Digest()
		if err != nil {
			t.Fatal(err)
		}
		mt, err := i.MediaType()
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"mediaType": string(mt), "digest": d.String(), "size": len(raw), "platform": map[string]string{"os": "linux", "architecture": arch}}
	}
	const indexType = "application/vnd.oci.image.index.v1+json"
	raw, err := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": indexType,
		"manifests": []any{entry(img, "arm64"), entry(harmless, "amd64")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.PushManifest(repoTag, indexType, raw); err != nil {
		t.Fatal(err)
	}
	return reg.Ref(repoTag)
}
