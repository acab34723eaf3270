package images

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPruneStaging_RemovesWhatNoPullHolds: a staged blob and its lock
// files (download lock, source note, use lock) go unless a pull claims
// the blob, and go when its last claim is let go; a partial download goes
// at once when the pull that started it is gone (its ingest lock is free),
// and stays while it lives.
func TestPruneStaging_RemovesWhatNoPullHolds(t *testing.T) {
	ctx := context.Background()
	s := NewStore(t.TempDir())
	st, err := s.openStaging()
	if err != nil {
		t.Fatal(err)
	}
	cs, locks := st.cs, st.claims.dir
	blob := func(data string) digest.Digest {
		d := digest.FromString(data)
		desc := ocispec.Descriptor{Digest: d, Size: int64(len(data))}
		if err := content.WriteBlob(ctx, cs, d.String(), bytes.NewReader([]byte(data)), desc); err != nil {
			t.Fatal(err)
		}
		for _, suffix := range []string{"", sourceSuffix, useSuffix} {
			if err := os.WriteFile(filepath.Join(locks, d.Encoded()+suffix), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	files := func(d digest.Digest) []string {
		var left []string
		if _, err := cs.Info(ctx, d); err == nil {
			left = append(left, "the blob")
		}
		for _, suffix := range []string{"", sourceSuffix, useSuffix} {
			if _, err := os.Stat(filepath.Join(locks, d.Encoded()+suffix)); err == nil {
				left = append(left, "lock file "+d.Encoded()[:12]+suffix)
			}
		}
		return left
	}
	free, held := blob("nobody holds this"), blob("a pull holds this")
	live := &claims{dir: locks, staged: cs}
	if err := live.claim(ctx, held); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.release(ctx) })
	partial := func(ref string) {
		w, err := content.OpenWriter(ctx, cs, content.WithRef(ref), content.WithDescriptor(ocispec.Descriptor{Digest: digest.FromString(ref + " data"), Size: 64}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("part")); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	liveIngest, err := lockIngest(filepath.Join(locks, ingestLockPrefix+"live"))
	if err != nil {
		t.Fatal(err)
	}
	defer liveIngest.Close()
	partial("live")
	partial("dead")
	if err := os.WriteFile(filepath.Join(locks, ingestLockPrefix+"gone"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	if err := s.pruneStaging(ctx); err != nil {
		t.Fatal(err)
	}
	if left := files(free); len(left) != 0 {
		t.Errorf("what no pull claims was kept: %v", left)
	}
	if left := files(held); len(left) != 4 {
		t.Errorf("of what a pull claims, only %v was kept", left)
	}
	if _, err := cs.Status(ctx, "live"); err != nil {
		t.Errorf("the partial download of a live pull was removed: %v", err)
	}
	if _, err := cs.Status(ctx, "dead"); err == nil {
		t.Error("the partial download of a pull that is gone was kept")
	}
	for _, name := range []string{"dead", "gone"} {
		if _, err := os.Stat(filepath.Join(locks, ingestLockPrefix+name)); err == nil {
			t.Errorf("the ingest lock of a pull that is gone (%s) was kept", name)
		}
	}
	live.release(ctx)
	if left := files(held); len(left) != 0 {
		t.Errorf("the last claim was let go, and %v was kept", left)
	}
}

// TestStagingFetch_NeverGoesToTheRegistry: the locked phase of a pull reads
// only staged blobs; one that is not staged is errNotStaged (the pull then
// stages again without the node lock), never a registry round trip under
// the lock.
func TestStagingFetch_NeverGoesToTheRegistry(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cs, err := local.NewStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := "staged"
	staged := ocispec.Descriptor{Digest: digest.FromString(data), Size: int64(len(data))}
	if err := content.WriteBlob(ctx, cs, staged.Digest.String(), bytes.NewReader([]byte(data)), staged); err != nil {
		t.Fatal(err)
	}
	st := &staging{root: dir, cs: cs}
	rc, err := st.Fetch(ctx, staged)
	if err != nil {
		t.Fatalf("a staged blob: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != data {
		t.Fatalf("a staged blob reads %q, %v", got, err)
	}
	missing := ocispec.Descriptor{Digest: digest.FromString("gone"), Size: 4}
	if _, err := st.Fetch(ctx, missing); !errors.Is(err, errNotStaged) {
		t.Fatalf("a blob that is not staged: %v, want errNotStaged", err)
	}
}

// TestClaims_AClaimedBlobIsNeverRemoved: pulls claim one blob, stage it
// if it is not, and let go, while others sweep the staging area, over and
// over: no pull ever finds the blob it claims, and found or staged,
// removed under it — its use lock may be removed and made again at any
// moment, and a claim on the removed file would not count.
func TestClaims_AClaimedBlobIsNeverRemoved(t *testing.T) {
	ctx := context.Background()
	st, err := NewStore(t.TempDir()).openStaging()
	if err != nil {
		t.Fatal(err)
	}
	data := "staged by whichever pull comes first"
	desc := ocispec.Descriptor{Digest: digest.FromString(data), Size: int64(len(data))}
	const pulls, rounds = 4, 300
	errs := make(chan error, 2*pulls)
	var wg sync.WaitGroup
	for i := 0; i < pulls; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				c := &claims{dir: st.claims.dir, staged: st.cs}
				if err := c.claim(ctx, desc.Digest); err != nil {
					errs <- err
					return
				}
				if free, _ := tryLock(c.usePath(desc.Digest)); free != nil {
					free.Close()
					errs <- fmt.Errorf("round %d: claimed, and yet the use lock at its path is free", r)
					return
				}
				err := content.WriteBlob(ctx, st.cs, fmt.Sprint(i, r), bytes.NewReader([]byte(data)), desc)
				if err != nil {
					errs <- err
					return
				}
				if _, err := st.cs.Info(ctx, desc.Digest); err != nil {
					errs <- fmt.Errorf("round %d: the blob went while claimed: %w", r, err)
					return
				}
				c.release(ctx)
			}
		}()
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				(&claims{dir: st.claims.dir, staged: st.cs}).sweep(ctx)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if left := entries(t, filepath.Join(st.root, stagingDir)); len(left) != 0 {
		t.Errorf("left once every pull let go: %v", left)
	}
}
