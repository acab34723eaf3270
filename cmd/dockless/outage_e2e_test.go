package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The registry outage tests stop a registry of their own on 127.0.0.1 (or
// make it answer 503 / 429) while images it served are cached.

// outageRegistry starts a registry the test may stop.
func outageRegistry(t *testing.T) *testimage.Registry {
	t.Helper()
	r, err := testimage.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// pushMarked pushes busybox with MARK=mark, and with big > 0 a layer
// holding /big of big random bytes (its download takes that), as repoTag;
// it returns the reference and the digest of the image's last layer.
func pushMarked(t *testing.T, r *testimage.Registry, repoTag, mark string, big int) (ref, lastLayer string) {
	t.Helper()
	o := testimage.Options{Env: []string{"MARK=" + mark}}
	if big > 0 {
		data := make([]byte, big)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		o.Extra = []testimage.File{{Name: "big", Mode: 0o644, Body: data}}
	}
	img, err := testimage.Busybox(o)
	if err != nil {
		t.Fatal(err)
	}
	if ref, err = r.Push(repoTag, img); err != nil {
		t.Fatal(err)
	}
	return ref, lastLayerOf(t, img)
}

func lastLayerOf(t *testing.T, img v1.Image) string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	return m.Layers[len(m.Layers)-1].Digest.String()
}

// askEveryStart makes every start, root's and the setuid binary's, ask
// the registry ([registry] revalidate_seconds = 0): the outage tests are
// about what a start does when it cannot.
func (e *env) askEveryStart() {
	e.writePolicy("[registry]\nrevalidate_seconds = 0\n")
	e.global = append(e.global, "--policy", suidPolicy)
}

// runsCached checks that a run printed the image's mark and warned, once,
// that the registry could not be asked.
func runsCached(t *testing.T, who string, r result, mark string) {
	t.Helper()
	if r.code != 0 || r.stdout != mark+"\n" {
		t.Fatalf("%s runs the cached image: %s", who, r)
	}
	if strings.Count(r.stderr, "using the cached copy") != 1 {
		t.Errorf("%s: want one warning naming the cached copy: %s", who, r.stderr)
	}
}

// TestOutage_CachedPublicImageRunsWhileTheRegistryIsDown: an image pulled
// anonymously is public; with its registry stopped, or answering 503 or
// 429, it runs from the cache (with --pull missing, the default) for root
// and for a user through the setuid binary, with a one-line warning.
func TestOutage_CachedPublicImageRunsWhileTheRegistryIsDown(t *testing.T) {
	e := newEnv(t)
	e.askEveryStart()
	r := outageRegistry(t)
	ref, _ := pushMarked(t, r, "test/public:1", "public", 0)
	e.mustRun("pull", "-q", ref)
	echo := []string{"run", "--rm", "-q", ref, "sh", "-c", "echo $MARK"}
	for _, down := range []struct {
		name     string
		stop, up func()
	}{
		{"stopped", func() { r.Close() }, func() {
			if err := r.Restart(); err != nil {
				t.Fatal(err)
			}
		}},
		{"503", func() { r.SetStatus(http.StatusServiceUnavailable) }, func() { r.SetStatus(0) }},
		{"429", func() { r.SetStatus(http.StatusTooManyRequests) }, func() { r.SetStatus(0) }},
	} {
		t.Run(down.name, func(t *testing.T) {
			down.stop()
			defer down.up()
			runsCached(t, "root", e.run(echo...), "public")
			runsCached(t, "alice", e.runAs(alice, alice.Home, nil, echo...), "public")
		})
	}
}

// TestOutage_PrivateImageFailsClosedWhileTheRegistryIsDown: alice pulls a
// private image with her credentials; with the registry stopped, bob (no
// credentials) is refused it under --pull missing and never, with a
// message naming [registry] offline; alice, still logged in, runs it with
// a warning; once she logged out she is refused too.
func TestOutage_PrivateImageFailsClosedWhileTheRegistryIsDown(t *testing.T) {
	e := newEnv(t)
	e.askEveryStart()
	r := outageRegistry(t)
	ref, _ := pushMarked(t, r, "private/secret:1", "secret", 0)
	r.SetAuth("basic", "alice-reg", "s3cret")
	for _, u := range []testUser{alice, bob} {
		os.RemoveAll(filepath.Join(u.Home, ".docker"))
		t.Cleanup(func() { os.RemoveAll(filepath.Join(u.Home, ".docker")) })
	}
	writeDockerAuth(t, alice, r.Addr, "alice-reg", "s3cret")
	echo := []string{"run", "--rm", "-q", ref, "sh", "-c", "echo $MARK"}
	if res := e.runAs(alice, alice.Home, nil, echo...); res.code != 0 || res.stdout != "secret\n" {
		t.Fatalf("alice pulls and runs her private image: %s", res)
	}
	r.Close()
	for _, pull := range []string{"missing", "never"} {
		res := e.runAs(bob, bob.Home, nil, "run", "--rm", "-q", "--pull", pull, ref, "true")
		if res.code != 125 || !strings.Contains(res.stderr, "[registry] offline") || !strings.Contains(res.stderr, "cannot be asked") {
			t.Errorf("bob, --pull %s, is refused alice's private image naming [registry] offline: %s", pull, res)
		}
	}
	runsCached(t, "alice", e.runAs(alice, alice.Home, nil, echo...), "secret")
	if res := e.runAs(alice, alice.Home, nil, "logout", r.Addr); res.code != 0 {
		t.Fatalf("logout: %s", res)
	}
	if res := e.runAs(alice, alice.Home, nil, echo...); res.code != 125 || !strings.Contains(res.stderr, "[registry] offline") {
		t.Errorf("alice, logged out, is refused: %s", res)
	}
}

// writeDockerAuth logs u in at addr as docker login would.
func writeDockerAuth(t *testing.T, u testUser, addr, user, pass string) {
	t.Helper()
	dir := userDir(t, filepath.Join(u.Home, ".docker"), u, 0o700)
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, addr, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	p := filepath.Join(dir, "config.json")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
}

// stallBlob makes the registry send the start of blob digest and then
// nothing; the channel is closed when a download has started.
func stallBlob(r *testimage.Registry, digest string) <-chan struct{} {
	started := make(chan struct{})
	var once sync.Once
	r.ServeBlob(digest, func(w http.ResponseWriter, req *http.Request) {
		_, _ = w.Write(make([]byte, 64<<10))
		w.(http.Flusher).Flush()
		once.Do(func() { close(started) })
		<-req.Context().Done()
	})
	return started
}

// startStopped starts dockless with args, stops the registry once the
// download of the stalled blob has started, and returns what dockless did.
func (e *env) startStopped(r *testimage.Registry, started <-chan struct{}, args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(binary, append(append([]string{"--root", e.root, "--state", e.state}, e.global...), args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		e.t.Fatalf("dockless %v never downloaded the layer: %s", args, errb.String())
	}
	r.Close()
	res, err := resultOf(&out, &errb, cmd.Wait())
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// TestOutage_RegistryStoppedMidPull: the tag of a cached image moves;
// the registry stops in the middle of the new image's download. dockless
// pull fails and leaves nothing of it; a run (--pull missing) falls back
// to the cached image with a warning, for root and for a user; once the
// registry is back, the run pulls the new image.
func TestOutage_RegistryStoppedMidPull(t *testing.T) {
	e := newEnv(t)
	e.askEveryStart()
	r := outageRegistry(t)
	ref, _ := pushMarked(t, r, "test/moving:1", "old", 0)
	e.mustRun("pull", "-q", ref)
	_, big := pushMarked(t, r, "test/moving:1", "new", 1<<20)

	res := e.startStopped(r, stallBlob(r, big), "pull", ref)
	if res.code != 125 || !strings.Contains(res.stderr, "pull ") {
		t.Fatalf("the pull fails when its registry stops: %s", res)
	}
	for _, dir := range []string{"staging/ingest", "staging/blobs", "content/ingest"} {
		if left := filesUnder(t, filepath.Join(e.root, dir)); len(left) != 0 {
			t.Errorf("the failed pull left %v", left)
		}
	}
	if _, err := os.Stat(filepath.Join(e.root, "content/blobs", strings.Replace(big, ":", "/", 1))); err == nil {
		t.Errorf("the failed pull left its layer %s in the store", big)
	}
	echo := []string{"run", "--rm", "-q", ref, "sh", "-c", "echo $MARK"}
	runsCached(t, "root, the registry stopped", e.run(echo...), "old")

	if err := r.Restart(); err != nil {
		t.Fatal(err)
	}
	res = e.startStopped(r, stallBlob(r, big), echo...)
	runsCached(t, "root, the registry stopped mid-pull", res, "old")
	if !strings.Contains(res.stderr, "the tag moved, but") {
		t.Errorf("the warning says the tag moved: %s", res.stderr)
	}
	runsCached(t, "alice, the registry stopped", e.runAs(alice, alice.Home, nil, echo...), "old")

	if err := r.Restart(); err != nil {
		t.Fatal(err)
	}
	r.ServeBlob(big, nil)
	if res := e.run(echo...); res.code != 0 || res.stdout != "new\n" || strings.Contains(res.stderr, "cached copy") {
		t.Fatalf("once the registry is back, the moved tag is pulled: %s", res)
	}
	if res := e.runAs(alice, alice.Home, nil, echo...); res.code != 0 || res.stdout != "new\n" {
		t.Fatalf("alice runs the new image: %s", res)
	}
}

// filesUnder lists the files (not directories) below dir.
func filesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		if os.IsNotExist(err) {
			return nil
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
