package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dockless/dockless/hack/testimage"
	"github.com/dockless/dockless/images"
)

// The size cap tests set [store] max_size in a policy of root's own
// (--policy) or in the setuid binary's, and check which images the cap
// leaves in the store.

// capPolicy writes a policy for root with [store] max_size = max.
func capPolicy(t *testing.T, max string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cap.toml")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("[store]\nmax_size = %q\n", max)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// cachedImages lists the names of the images in the env's store, and
// their total unpacked size.
func (e *env) cachedImages() ([]string, int64) {
	e.t.Helper()
	st := images.NewStore(e.root)
	st.As = images.Caller{Root: true}
	list, err := st.List(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	var total int64
	for _, img := range list {
		names = append(names, img.Name)
		total += img.Size
	}
	slices.Sort(names)
	return names, total
}

// TestSizeCap_ABigImageRunsUnderASmallerCap: under a 4 MB cap, dockless
// pull keeps the 16 MB image it just pulled, and the image runs, for a
// user and for root: the cap evicts no image about to start, and keeps an
// image larger than itself while it is used, with a warning.
func TestSizeCap_ABigImageRunsUnderASmallerCap(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("max_size = \"4M\"\n")
	img, err := testimage.WithBigFile(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.Push("test/capped:16m", img)
	if err != nil {
		t.Fatal(err)
	}
	e.mustRun("--policy", suidPolicy, "pull", "-q", ref)
	if names, _ := e.cachedImages(); !slices.Equal(names, []string{ref}) {
		t.Fatalf("dockless pull keeps the image it pulled over the cap: %v", names)
	}
	e.mustRun("image", "prune", "-a")
	size := []string{"run", "--rm", "-q", ref, "sh", "-c", "wc -c < /big"}
	for _, run := range []func() result{
		func() result { return e.runAs(alice, alice.Home, nil, size...) },
		func() result { return e.run(append([]string{"--policy", suidPolicy}, size...)...) },
	} {
		r := run()
		if r.code != 0 || strings.TrimSpace(r.stdout) != fmt.Sprint(16<<20) {
			t.Fatalf("the 16 MB image runs under a 4 MB cap: %s", r)
		}
		if !strings.Contains(r.stderr, "[store] max_size") {
			t.Errorf("a warning says the image stays over the cap: %s", r.stderr)
		}
	}
}

// pushLRU pushes n busybox images that differ by a layer of their own and
// pulls them in order: the first is the least recently used.
func (e *env) pushLRU(repo string, n int) []string {
	e.t.Helper()
	var refs []string
	for i := 0; i < n; i++ {
		img, err := testimage.Busybox(testimage.Options{Extra: []testimage.File{{Name: "n", Mode: 0o644, Body: []byte(strings.Repeat(fmt.Sprint(i), 64<<10))}}})
		if err != nil {
			e.t.Fatal(err)
		}
		ref, err := reg.Push(fmt.Sprintf("%s:%d", repo, i), img)
		if err != nil {
			e.t.Fatal(err)
		}
		e.mustRun("pull", "-q", ref)
		refs = append(refs, ref)
	}
	return refs
}

// TestSizeCap_TheImageAboutToStartIsNotEvicted: the least recently used
// image is the one a run starts; the cap, which evicting it alone would
// satisfy, evicts the other image instead, and the run works.
func TestSizeCap_TheImageAboutToStartIsNotEvicted(t *testing.T) {
	e := newEnv(t)
	refs := e.pushLRU("test/lru-start", 2)
	_, total := e.cachedImages()
	pol := capPolicy(t, fmt.Sprint(total-1))
	if r := e.run("--policy", pol, "run", "--rm", "-q", refs[0], "cat", "/n"); r.code != 0 || len(r.stdout) != 64<<10 {
		t.Fatalf("the least recently used image runs under the cap: %s", r)
	}
	if names, _ := e.cachedImages(); !slices.Equal(names, refs[:1]) {
		t.Errorf("the cap keeps the image that started and evicts the other: %v", names)
	}
}

// TestSizeCap_LSFSpecEvictsNothing: lsf spec pulls the job's image if it
// must and changes nothing else: with the store over its cap, it evicts
// nothing.
func TestSizeCap_LSFSpecEvictsNothing(t *testing.T) {
	e := newEnv(t)
	refs := e.pushLRU("test/lru-spec", 2)
	before, _ := e.cachedImages()
	j := newLSFJob(t, e, alice, "true")
	e.writePolicy(fmt.Sprintf("max_size = \"1k\"\n[job]\nlsf_top = %q\n[volumes]\nallowed_prefixes = [%q]\n", j.lsfTop, j.storage))
	r := e.runAs(alice, alice.Home, append(j.env, "LSB_CONTAINER_IMAGE="+refs[1]), "lsf", "spec", j.jobFile)
	if r.code != 0 || !strings.Contains(r.stdout, `"ociVersion"`) {
		t.Fatalf("lsf spec: %s", r)
	}
	if after, _ := e.cachedImages(); !slices.Equal(after, before) {
		t.Errorf("lsf spec evicted images: %v, then %v", before, after)
	}
}
