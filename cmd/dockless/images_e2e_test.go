package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/go-units"
	"github.com/dockless/dockless/hack/testimage"
)

func TestPull_ByTagAndByDigest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		out := e.mustRun("pull", busybox)
		if !strings.Contains(out, "Digest: sha256:") || !strings.HasSuffix(out, busybox+"\n") {
			t.Fatalf("pull output: %q", out)
		}
		// The status counts each layer once (to the precision it prints).
		var layers, total float64
		for _, line := range strings.Split(out, "\n") {
			if _, size, ok := strings.Cut(line, ": Pull complete ("); ok {
				n, _ := units.FromHumanSize(strings.TrimSuffix(size, ")"))
				layers += float64(n)
			}
			if _, rest, ok := strings.Cut(line, ": layers "); ok {
				n, _ := units.FromHumanSize(strings.Fields(rest)[0])
				total = float64(n)
			}
		}
		if layers == 0 || total < layers*0.99 || total > layers*1.01 {
			t.Errorf("pull counts %.0f bytes of layers, its layer lines %.0f: %q", total, layers, out)
		}
		digest := strings.Fields(out[strings.Index(out, "Digest: "):])[1]
		byDigest := strings.TrimSuffix(busybox, ":latest") + "@" + digest
		e.mustRun("pull", "-q", byDigest)
		if out := e.mustRun("run", "--rm", byDigest, "echo", "by digest"); out != "by digest\n" {
			t.Fatalf("run by digest: %q", out)
		}
		list := e.mustRun("images")
		if !strings.HasPrefix(list, "REPOSITORY") || !strings.Contains(list, "IMAGE ID") || strings.Count(list, "\n") != 3 {
			t.Fatalf("images lists the tag and the digest: %q", list)
		}
	})
}

func TestPull_MultiArchIndexAndZstd(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		img, err := testimage.Busybox(testimage.Options{Compression: "zstd", Env: []string{"FLAVOUR=zstd"}})
		if err != nil {
			t.Fatal(err)
		}
		idx, err := testimage.Index(img)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := reg.PushIndex("test/multi:zstd", idx)
		if err != nil {
			t.Fatal(err)
		}
		if out := e.mustRun("run", "--rm", ref, "sh", "-c", "echo $FLAVOUR; uname -m"); out != "zstd\nx86_64\n" {
			t.Fatalf("amd64 entry of the index with zstd layers: %q", out)
		}
	})
}

func TestPull_ConcurrentPullsOfOneImageBothSucceed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		img, err := testimage.Busybox(testimage.Options{Env: []string{"UNIQUE=concurrent"}})
		if err != nil {
			t.Fatal(err)
		}
		ref, err := reg.Push("test/concurrent:1", img)
		if err != nil {
			t.Fatal(err)
		}
		reg.Reset()
		var wg sync.WaitGroup
		results := make([]result, 4)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = e.run("pull", "-q", ref)
			}()
		}
		wg.Wait()
		for i, r := range results {
			if r.code != 0 {
				t.Errorf("pull %d: %s", i, r)
			}
		}
		for blob, n := range reg.BlobGets("test/concurrent") {
			if n != 1 {
				t.Errorf("blob %s fetched %d times; the store must share one download", blob, n)
			}
		}
		if out := e.mustRun("run", "--rm", "--pull", "never", ref, "sh", "-c", "echo $UNIQUE"); out != "concurrent\n" {
			t.Fatalf("run after concurrent pulls: %q", out)
		}
	})
}

// TestPull_ALongPullDoesNotHoldUpOtherImages: a pull downloads without
// the node lock (into the staging area, or under a containerd lease), so a
// job whose image is cached starts while another job's slow pull is still
// downloading.
func TestPull_ALongPullDoesNotHoldUpOtherImages(t *testing.T) {
	big, err := testimage.WithBigFile(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		e.mustRun("pull", "-q", busybox)
		if e.containerd == "" {
			for _, dir := range []string{e.root, filepath.Join(e.root, "staging")} {
				if fi, err := os.Stat(dir); err != nil {
					t.Error(err)
				} else if fi.Mode().Perm() != 0o700 {
					t.Errorf("%s after the first pull: %v, want root's alone (0700)", dir, fi.Mode())
				}
			}
		}
		repo := fmt.Sprintf("test/slow-%d", time.Now().UnixNano())
		ref, err := reg.Push(repo+":1", big)
		if err != nil {
			t.Fatal(err)
		}
		reg.Reset()
		reg.SetDelay(true) // 1.25 MiB/s: the 8 MiB layer takes about 6 s
		defer reg.SetDelay(false)
		pull := exec.Command(binary, append(append([]string{"--root", e.root, "--state", e.state}, e.global...), "pull", "-q", ref)...)
		if err := pull.Start(); err != nil {
			t.Fatal(err)
		}
		pulled := make(chan error, 1)
		go func() { pulled <- pull.Wait() }()
		for i := 0; len(reg.BlobGets(repo)) == 0; i++ {
			if i == 100 {
				t.Fatal("the slow pull never started downloading")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if out := e.mustRun("run", "--rm", busybox, "echo", "ran"); out != "ran\n" {
			t.Errorf("run of a cached image: %q", out)
		}
		select {
		case err := <-pulled:
			t.Fatalf("the slow pull ended (%v) before the run of a cached image did: the run waited for it", err)
		default:
		}
		if err := <-pulled; err != nil {
			t.Fatalf("the slow pull: %v", err)
		}
		if out := e.mustRun("run", "--rm", "--pull", "never", ref, "sh", "-c", "wc -c < /big"); strings.TrimSpace(out) != "8388608" {
			t.Errorf("the slowly pulled image: %q", out)
		}
		if blobs, _ := filepath.Glob(filepath.Join(e.root, "staging", "blobs", "sha256", "*")); len(blobs) != 0 {
			t.Errorf("staged blobs left after the pull: %v", blobs)
		}
	})
}

func TestRmi_CollectsContentAndLayers(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	if blobs := countFiles(t, filepath.Join(e.root, "content", "blobs", "sha256")); blobs != 5 {
		t.Fatalf("after pull: want manifest, config and 3 layers = 5 blobs, have %d", blobs)
	}
	out := e.mustRun("rmi", busybox)
	if !strings.Contains(out, "Untagged: "+busybox) {
		t.Fatalf("rmi output: %q", out)
	}
	if blobs := countFiles(t, filepath.Join(e.root, "content", "blobs", "sha256")); blobs != 0 {
		t.Errorf("after rmi: %d blobs left", blobs)
	}
	if dirs, _ := filepath.Glob(filepath.Join(e.root, "snapshots", "snapshots", "*")); len(dirs) != 0 {
		t.Errorf("after rmi: %d snapshots left", len(dirs))
	}
	if list := e.mustRun("images"); strings.Count(list, "\n") != 1 {
		t.Errorf("images after rmi: %q", list)
	}
	r := e.run("rmi", busybox)
	if r.code != 125 || !strings.Contains(r.stderr, "no such image") {
		t.Errorf("rmi of a missing image: %s", r)
	}
}

func TestRmi_ByIDKeepsLayersOfARunningContainer(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	id := strings.TrimSpace(e.mustRun("images", "-q"))
	cid := e.cidfile("inuse")
	done := make(chan result)
	go func() {
		done <- e.run("run", "--rm", "--cidfile", cid, busybox, "sh", "-c", "sleep 1; cat /etc/passwd >/dev/null && echo alive")
	}()
	waitForInit(t, cid)
	e.mustRun("rmi", id)
	if r := <-done; r.code != 0 || r.stdout != "alive\n" {
		t.Fatalf("a running container keeps its layers through rmi: %s", r)
	}
	if dirs, _ := filepath.Glob(filepath.Join(e.root, "snapshots", "snapshots", "*")); len(dirs) != 0 {
		t.Errorf("the layers are collected once the container is gone: %d left", len(dirs))
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(entries)
}

// TestPull_LayerDeviceNodesAreDropped: an image shipping a device node
// unpacks without it (policy [store] layer_devices is off by default).
func TestPull_LayerDeviceNodesAreDropped(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		img, err := testimage.Busybox(testimage.Options{Extra: []testimage.File{{Name: "evil-null", Mode: 0o666, Char: [2]int64{1, 3}}}})
		if err != nil {
			t.Fatal(err)
		}
		ref, err := reg.Push("test/devices:1", img)
		if err != nil {
			t.Fatal(err)
		}
		if out := e.mustRun("run", "--rm", "-q", ref, "sh", "-c", "ls /evil-null 2>/dev/null || echo dropped"); out != "dropped\n" {
			t.Fatalf("a device node from a layer: %q", out)
		}
	})
}

// TestPull_ThroughAMirror: a hosts.toml in the policy's mirrors_dir sends
// pulls of a registry that does not answer to a mirror that does.
func TestPull_ThroughAMirror(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		mirrors := t.TempDir()
		upstream := "127.0.0.2:5999" // nothing listens there
		if err := os.MkdirAll(filepath.Join(mirrors, upstream), 0o755); err != nil {
			t.Fatal(err)
		}
		hosts := fmt.Sprintf("server = \"http://%s\"\n\n[host.\"http://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n", upstream, reg.Addr)
		if err := os.WriteFile(filepath.Join(mirrors, upstream, "hosts.toml"), []byte(hosts), 0o644); err != nil {
			t.Fatal(err)
		}
		pol := filepath.Join(t.TempDir(), "dockless.toml")
		if err := os.WriteFile(pol, []byte(fmt.Sprintf("[registry]\nmirrors_dir = %q\n", mirrors)), 0o644); err != nil {
			t.Fatal(err)
		}
		ref := upstream + "/test/busybox:latest"
		if out := e.mustRun("--policy", pol, "run", "--rm", "-q", ref, "echo", "via-mirror"); out != "via-mirror\n" {
			t.Fatalf("pull through the mirror: %q", out)
		}
		if r := e.run("run", "--rm", "-q", "--pull", "always", ref, "true"); r.code != 125 {
			t.Fatalf("without the mirror the registry does not answer: %s", r)
		}
	})
}

// TestImages_PruneAndSizeCap: image prune removes only what no container
// uses (untagged images, or all with -a); the policy's max_size evicts the
// least recently used images after a pull; users may not remove images.
func TestImages_PruneAndSizeCap(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		var refs []string
		for i := 0; i < 3; i++ {
			img, err := testimage.Busybox(testimage.Options{Env: []string{fmt.Sprintf("N=%d", i)}})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := reg.Push(fmt.Sprintf("test/lru:%d", i), img)
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, ref)
		}
		out := e.mustRun("pull", refs[0])
		digest := strings.Fields(out[strings.Index(out, "Digest: "):])[1]
		e.mustRun("pull", "-q", strings.TrimSuffix(refs[0], ":0")+"@"+digest)
		e.mustRun("run", "--rm", "-q", refs[1], "true")
		if out := e.mustRun("image", "prune"); !strings.Contains(out, "@sha256:") || !strings.Contains(out, "Total: 1 ") {
			t.Fatalf("image prune removes the untagged image only: %q", out)
		}
		pol := filepath.Join(t.TempDir(), "cap.toml")
		if err := os.WriteFile(pol, []byte("[store]\nmax_size = \"3m\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		e.mustRun("--policy", pol, "pull", "-q", refs[2])
		lines := strings.Split(strings.TrimSpace(e.mustRun("images")), "\n")
		if f := strings.Fields(lines[len(lines)-1]); len(lines) != 2 || !strings.HasSuffix(f[0], "test/lru") || f[1] != "2" {
			t.Fatalf("the cap keeps only the newest image: %q", lines)
		}
		if out := e.mustRun("image", "prune", "-a"); !strings.Contains(out, "Total: 1 ") {
			t.Fatalf("image prune -a: %q", out)
		}
	})
}
