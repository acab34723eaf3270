package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/opencontainers/go-digest"
)

// Faults of a pull: the store's disk fills up, a blob of the store is
// corrupted, the pulling dockless is killed. Each fails cleanly, or
// recovers, and leaves nothing that harms the next pull.

// storeOnTmpfs mounts a tmpfs of size (mount's size=) as the env's store
// root, unmounted at cleanup, and writes a policy that keeps minFree
// free on it, for --policy.
func (e *env) storeOnTmpfs(size, minFree string) (policy string) {
	t := e.t
	t.Helper()
	if err := os.MkdirAll(e.root, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", e.root).CombinedOutput(); err != nil {
		t.Fatalf("mounting a tmpfs as the store: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", e.root).CombinedOutput(); err != nil {
			t.Errorf("unmounting the store's tmpfs: %v: %s", err, out)
		}
	})
	policy = filepath.Join(t.TempDir(), "dockless.toml")
	if err := os.WriteFile(policy, []byte(fmt.Sprintf("[store]\nmin_free_space = %q\n", minFree)), 0o644); err != nil {
		t.Fatal(err)
	}
	return policy
}

// stagingLeft lists the files in the store's staging area: staged blobs,
// partial downloads, lock files.
func stagingLeft(t *testing.T, root string) []string {
	t.Helper()
	var left []string
	err := filepath.WalkDir(filepath.Join(root, "staging"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, strings.TrimPrefix(p, root+"/"))
		}
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return left
}

// filesIn lists the files below root/dir.
func filesIn(t *testing.T, root, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, strings.TrimPrefix(p, root+"/"))
		}
		return nil
	})
	return out
}

// randomFile is a file of n random bytes (they do not compress: the layer
// downloads its size).
func randomFile(t *testing.T, name string, n int) testimage.File {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return testimage.File{Name: name, Mode: 0o644, Body: b}
}

// busyboxPlus is the busybox image with one more layer per files.
func busyboxPlus(t *testing.T, env string, layers ...[]testimage.File) v1.Image {
	t.Helper()
	img, err := testimage.Busybox(testimage.Options{Env: []string{env}})
	if err != nil {
		t.Fatal(err)
	}
	for _, files := range layers {
		l, err := testimage.Layer(files, "gzip")
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// serveTogether holds the registry's answers for the blobs until each of
// them was asked for, then serves them all: the pull has passed its free
// space check for each before any byte is written.
func serveTogether(t *testing.T, blobs []blob) {
	t.Helper()
	var mu sync.Mutex
	asked := map[string]bool{}
	all := make(chan struct{})
	for _, b := range blobs {
		reg.ServeBlob(b.digest, func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			if asked[b.digest] = true; len(asked) == len(blobs) {
				select {
				case <-all:
				default:
					close(all)
				}
			}
			mu.Unlock()
			select {
			case <-all:
			case <-req.Context().Done():
				return
			}
			w.Header().Set("Content-Length", strconv.FormatInt(b.size, 10))
			_, _ = w.Write(b.data)
		})
		t.Cleanup(func() { reg.ServeBlob(b.digest, nil) })
	}
}

// TestFault_FullStoreDiskDuringDownload: on a 40 MB store, a pull of an
// image declared larger than the disk is refused before it writes, and a
// pull whose layers each fit but together fill the disk as they download
// fails with "no space left on device"; both name the store's disk and
// [store] min_free_space, exit 125, leave nothing in the staging area or
// the store, and the next, smaller pull works.
func TestFault_FullStoreDiskDuringDownload(t *testing.T) {
	e := newEnv(t)
	policy := e.storeOnTmpfs("40m", "0")
	larger, err := reg.Push("test/fulldisk:larger", busyboxPlus(t, "FULL=larger", []testimage.File{randomFile(t, "big", 68<<20)}))
	if err != nil {
		t.Fatal(err)
	}
	together := busyboxPlus(t, "FULL=together", []testimage.File{randomFile(t, "a", 25<<20)}, []testimage.File{randomFile(t, "b", 25<<20)})
	fill, err := reg.Push("test/fulldisk:together", together)
	if err != nil {
		t.Fatal(err)
	}
	layers := layersOf(t, together)
	serveTogether(t, layers[len(layers)-2:])

	for _, c := range []struct{ name, ref string }{
		{"an image declared larger than the disk", larger},
		{"layers that fill the disk together", fill},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.run("--policy", policy, "pull", c.ref)
			if r.code != 125 || !strings.Contains(r.stderr, e.root) || !strings.Contains(r.stderr, "min_free_space") || strings.Contains(r.stderr, "panic") {
				t.Fatalf("a pull that does not fit the store's disk: %s", r)
			}
			t.Log(r.stderr)
			if left := stagingLeft(t, e.root); len(left) != 0 {
				t.Errorf("the failed pull left in the staging area: %v", left)
			}
			if out := e.mustRun("--policy", policy, "images"); strings.Contains(out, "fulldisk") {
				t.Errorf("the failed pull recorded an image: %q", out)
			}
			if out := e.mustRun("--policy", policy, "run", "--rm", "-q", busybox, "echo", "fits"); out != "fits\n" {
				t.Errorf("the next, smaller pull and run: %q", out)
			}
			e.mustRun("--policy", policy, "rmi", busybox)
			if left := filesIn(t, e.root, "content/blobs"); len(left) != 0 {
				t.Errorf("blobs left in the store after the failed pull and rmi of the other image: %v", left)
			}
		})
	}
}

// TestFault_FullStoreDiskDuringUnpack: on a 12 MB store, an image whose
// layers download in a few KiB but unpack to 16 MB fills the disk while
// it unpacks (between two looks at the free space): the pull fails naming
// the store's disk and [store] min_free_space, exit 125; nothing of it is
// left (no blob, snapshot or staged file) and the next, smaller pull
// works.
func TestFault_FullStoreDiskDuringUnpack(t *testing.T) {
	e := newEnv(t)
	policy := e.storeOnTmpfs("12m", "0")
	var files []testimage.File
	for i := 0; i < 16; i++ {
		files = append(files, testimage.File{Name: fmt.Sprintf("f%02d", i), Mode: 0o644, Body: bytes.Repeat([]byte{'x'}, 1<<20)})
	}
	ref, err := reg.Push("test/fulldisk:unpack", busyboxPlus(t, "FULL=unpack", files))
	if err != nil {
		t.Fatal(err)
	}
	r := e.run("--policy", policy, "pull", ref)
	if r.code != 125 || !strings.Contains(r.stderr, "no space left on device") || !strings.Contains(r.stderr, e.root) || !strings.Contains(r.stderr, "min_free_space") {
		t.Fatalf("a pull that fills the store's disk as it unpacks: %s", r)
	}
	t.Log(r.stderr)
	for _, dir := range []string{"staging", "content/blobs", "snapshots/snapshots"} {
		if left := filesIn(t, e.root, dir); len(left) != 0 {
			t.Errorf("the failed pull left in %s: %v", dir, left)
		}
	}
	if out := e.mustRun("--policy", policy, "run", "--rm", "-q", busybox, "echo", "fits"); out != "fits\n" {
		t.Errorf("the next, smaller pull and run: %q", out)
	}
}

// TestFault_PullKilledMidDownload: a dockless SIGKILLed while it
// downloads a layer leaves a partial download and staged blobs; the next
// pull (of another image) removes all of it, and the pull of the same
// image then works. The staging area holds nothing after either.
func TestFault_PullKilledMidDownload(t *testing.T) {
	e := newEnv(t)
	img := busyboxPlus(t, "KILLED=1", []testimage.File{randomFile(t, "big", 8<<20)})
	ref, err := reg.Push("test/killed:1", img)
	if err != nil {
		t.Fatal(err)
	}
	layers := layersOf(t, img)
	big := layers[len(layers)-1]
	midway := make(chan struct{})
	var once sync.Once
	reg.ServeBlob(big.digest, func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Length", strconv.FormatInt(big.size, 10))
		_, _ = w.Write(big.data[:big.size/2])
		w.(http.Flusher).Flush()
		once.Do(func() { close(midway) })
		<-req.Context().Done()
	})
	t.Cleanup(func() { reg.ServeBlob(big.digest, nil) })

	pull := exec.Command(binary, "--root", e.root, "--state", e.state, "pull", ref)
	var out bytes.Buffer
	pull.Stdout, pull.Stderr = &out, &out
	if err := pull.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- pull.Wait() }()
	select {
	case <-midway:
	case err := <-done:
		t.Fatalf("the pull ended before it was half-way through its layer: %v: %s", err, out.String())
	case <-time.After(time.Minute):
		t.Fatal("the pull never reached its layer")
	}
	if err := pull.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	reg.ServeBlob(big.digest, nil)
	left := stagingLeft(t, e.root)
	if !strings.Contains(strings.Join(left, " "), "staging/ingest/") {
		t.Fatalf("the killed pull left no partial download (the test kills too late): %v", left)
	}

	if out := e.mustRun("run", "--rm", "-q", busybox, "echo", "next"); out != "next\n" {
		t.Errorf("the next pull, of another image: %q", out)
	}
	if left := stagingLeft(t, e.root); len(left) != 0 {
		t.Errorf("after the next pull, the staging area holds: %v", left)
	}
	if out := e.mustRun("run", "--rm", "-q", ref, "sh", "-c", "echo $KILLED; wc -c < /big"); out != "1\n"+strconv.Itoa(8<<20)+"\n" {
		t.Errorf("the pull of the image whose pull was killed: %q", out)
	}
	if left := stagingLeft(t, e.root); len(left) != 0 {
		t.Errorf("after the pull of the same image, the staging area holds: %v", left)
	}
}

// TestFault_CorruptBlobOfACachedImage: a blob of a cached image (its
// manifest, its config, its top layer) truncated, or with one byte
// flipped, in the store. A run never starts a container from a config
// that is not the image's: with --pull never it either runs the image as
// it was pulled (its unpacked layers are intact) or fails with exit 125
// naming dockless image rm; a run that may pull fetches the corrupt blob
// again and runs the image, and the store's copy matches its digest
// again. A layer is read again only when another image has it on other
// layers: that pull finds it corrupt, fetches it again and works.
func TestFault_CorruptBlobOfACachedImage(t *testing.T) {
	extra := []testimage.File{{Name: "extra", Mode: 0o644, Body: []byte("extra content\n")}}
	img := busyboxPlus(t, "MARK=intact", extra)
	// other has img's top layer on a layer of its own: unpacking it reads
	// that layer's blob again.
	other := busyboxPlus(t, "MARK=other", []testimage.File{{Name: "other", Mode: 0o644, Body: []byte("other\n")}}, extra)
	manifest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	config, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	layers := layersOf(t, img)
	blobs := map[string]string{"manifest": manifest.String(), "config": config.String(), "top layer": layers[len(layers)-1].digest}
	corruptions := map[string]func(b []byte) []byte{
		"truncated": func(b []byte) []byte { return b[:len(b)/2] },
		// In the config, a byte of the value of MARK: the JSON still
		// parses, to another config.
		"one byte flipped": func(b []byte) []byte {
			i := bytes.Index(b, []byte("MARK=intact"))
			if i < 0 {
				i = len(b)/2 - 5
			}
			b[i+5] ^= 0x20
			return b
		},
	}
	const script = "echo $MARK; cat /extra"
	const want = "intact\nextra content\n"
	for _, what := range []string{"manifest", "config", "top layer"} {
		for _, how := range []string{"truncated", "one byte flipped"} {
			t.Run(what+" "+how, func(t *testing.T) {
				e := newEnv(t)
				tag := strings.ReplaceAll(what+"-"+how, " ", "-")
				ref, err := reg.Push("test/corrupt:"+tag, img)
				if err != nil {
					t.Fatal(err)
				}
				e.mustRun("pull", "-q", ref)
				path := filepath.Join(e.root, "content/blobs/sha256", strings.TrimPrefix(blobs[what], "sha256:"))
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, corruptions[how](b), 0o444); err != nil {
					t.Fatal(err)
				}

				r := e.run("run", "--rm", "--pull", "never", ref, "sh", "-c", script)
				ran := r.code == 0 && r.stdout == want
				refused := r.code == 125 && strings.Contains(r.stderr, "dockless image rm") && strings.Contains(r.stderr, blobs[what])
				if !ran && !refused {
					t.Fatalf("a run (--pull never) of the image with a corrupt %s: %s", what, r)
				}
				if r := e.run("run", "--rm", ref, "sh", "-c", script); r.code != 0 || r.stdout != want {
					t.Fatalf("a run that may pull, of the image with a corrupt %s: %s", what, r)
				}
				if what == "top layer" {
					otherRef, err := reg.Push("test/corrupt-other:"+tag, other)
					if err != nil {
						t.Fatal(err)
					}
					if r := e.run("run", "--rm", otherRef, "sh", "-c", script); r.code != 0 || r.stdout != "other\nextra content\n" {
						t.Fatalf("an image with the corrupt layer on other layers: %s", r)
					}
				}
				if got, err := os.ReadFile(path); err != nil || digest.FromBytes(got).String() != blobs[what] {
					t.Errorf("the store's %s still does not match its digest (%v)", what, err)
				}
				if out := e.mustRun("run", "--rm", "-q", "--pull", "never", ref, "sh", "-c", script); out != want {
					t.Errorf("the next run: %q", out)
				}
			})
		}
	}
}
