package images

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPruneStaging_RemovesWhatNoPullHolds: staged blobs go unless a pull
// holds their lock; a partial download goes at once when the pull that
// started it is gone (its ingest lock is free), and stays while it lives.
func TestPruneStaging_RemovesWhatNoPullHolds(t *testing.T) {
	ctx := context.Background()
	s := NewStore(t.TempDir())
	cs, err := local.NewStore(filepath.Join(s.Root(), stagingDir))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(s.Root(), stagingDir, "locks"), 0o700); err != nil {
		t.Fatal(err)
	}
	blob := func(data string) digest.Digest {
		d := digest.FromString(data)
		desc := ocispec.Descriptor{Digest: d, Size: int64(len(data))}
		if err := content.WriteBlob(ctx, cs, d.String(), bytes.NewReader([]byte(data)), desc); err != nil {
			t.Fatal(err)
		}
		return d
	}
	free, held := blob("nobody holds this"), blob("a pull holds this")
	st := &staging{root: s.Root(), cs: cs}
	lock, err := lockFile(ctx, st.lockPath(held), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
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
	locks := filepath.Join(s.Root(), stagingDir, "locks")
	live, err := lockIngest(filepath.Join(locks, ingestLockPrefix+"live"))
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	partial("live")
	partial("dead")
	if err := os.WriteFile(filepath.Join(locks, ingestLockPrefix+"gone"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	if err := s.pruneStaging(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Info(ctx, free); err == nil {
		t.Error("a staged blob no pull holds was kept")
	}
	if _, err := cs.Info(ctx, held); err != nil {
		t.Errorf("a staged blob a pull holds was removed: %v", err)
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
