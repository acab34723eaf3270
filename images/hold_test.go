package images

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/images"
)

// TestStore_EnforceCapLeavesHeldImages: the size cap evicts no image a run
// holds — one found in the cache for a container about to start (Ensure
// with Hold), one its pull just recorded (Pull with Hold) — until the
// container's layer keeps it (Prepare) or the run lets go (Unhold); the
// hold of a process that is gone keeps nothing. A store under the cap is
// checked in a shared session.
func TestStore_EnforceCapLeavesHeldImages(t *testing.T) {
	s, reg := testStore(t)
	ctx := context.Background()
	refs := map[string]string{}
	for i, n := range []string{"found", "free", "dead", "pulled"} {
		refs[n] = push(t, reg, "test/"+n+":latest", busyboxWith(t, n, (i+1)<<12))
	}
	name := map[string]string{}
	// found is pulled first: it is the least recently used.
	for _, n := range []string{"found", "free", "dead"} {
		name[n] = pullOK(t, s, refs[n]).Name
	}
	found, err := s.Ensure(ctx, refs["found"], PullMissing, PullOptions{Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := s.Pull(ctx, refs["pulled"], PullOptions{Hold: true})
	if err != nil {
		t.Fatal(err)
	}
	name["pulled"] = pulled.Name
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	deadHold := holdLabelPrefix + "gone"
	err = s.with(ctx, func(ctx context.Context, ss *session) error {
		_, err := ss.images.Update(ctx, images.Image{Name: name["dead"], Labels: map[string]string{deadHold: fmt.Sprintf("%d 1", gone.Process.Pid)}}, "labels."+deadHold)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	evict := func(max int64, want ...string) {
		t.Helper()
		got, count, err := s.EnforceCap(ctx, max)
		if err != nil {
			t.Fatal(err)
		}
		var wantNames []string
		for _, n := range want {
			wantNames = append(wantNames, name[n])
		}
		slices.Sort(got)
		slices.Sort(wantNames)
		if !slices.Equal(got, wantNames) || count != len(want) {
			t.Fatalf("evicted %v (%d), want %v", got, count, wantNames)
		}
	}
	// Under the cap, the check shares the store with the starts beside it:
	// it goes on while one holds the store's lock shared.
	reader, err := lockFile(ctx, filepath.Join(s.Root(), "lock"), shared, time.Second, s.log())
	if err != nil {
		t.Fatal(err)
	}
	s.LockTimeout = 2 * time.Second
	evict(1 << 40)
	reader.Close()
	s.LockTimeout = 10 * time.Second
	evict(0, "free", "dead")

	if _, err := s.Prepare(ctx, "c1", found); err != nil {
		t.Fatal(err)
	}
	evict(0)
	if err := s.Release(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	evict(0, "found")
	if err := s.Unhold(ctx, pulled); err != nil {
		t.Fatal(err)
	}
	evict(0, "pulled")
	assertEmpty(t, s)
}

// TestEnsure_PreparesAnImageUsableAsItIs: a run whose cached image needs no
// question to its registry gets its container's snapshot in the session
// that finds the image, and no hold; one whose image must be checked first
// (the registry's answer is not fresh) gets a hold and no snapshot, which
// the rootfs step's Prepare makes later. Release removes either.
func TestEnsure_PreparesAnImageUsableAsItIs(t *testing.T) {
	s, reg := testStore(t)
	ctx := context.Background()
	ref := push(t, reg, "test/asis:latest", busyboxWith(t, "asis", 1<<12))
	s.Revalidate = time.Minute // the pull's answer is noted
	name := pullOK(t, s, ref).Name
	labels := func() map[string]string {
		t.Helper()
		var l map[string]string
		if err := s.with(ctx, func(ctx context.Context, ss *session) error {
			rec, err := ss.images.Get(ctx, name)
			l = rec.Labels
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, tc := range []struct {
		name       string
		revalidate time.Duration
		pull       PullPolicy
		prepared   bool
	}{
		{"--pull never: used as it is", 0, PullNever, true},
		{"--pull missing, the registry answered just now", time.Minute, PullMissing, true},
		{"--pull missing, no fresh answer: asked first, held", 0, PullMissing, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.Revalidate = tc.revalidate
			id := strings.ReplaceAll(tc.name, " ", "-")
			img, err := s.Ensure(ctx, ref, tc.pull, PullOptions{Hold: true, Prepare: id})
			if err != nil {
				t.Fatal(err)
			}
			_, containers, err := s.Snapshots(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Mounts != nil && slices.Contains(containers, id); got != tc.prepared {
				t.Fatalf("prepared in the finding session: %v, want %v (snapshots %v)", got, tc.prepared, containers)
			}
			held, _ := holds(labels())
			if held == tc.prepared || (img.hold != "") == tc.prepared {
				t.Errorf("held %v (label %q), want %v", held, img.hold, !tc.prepared)
			}
			if !tc.prepared {
				if _, err := s.Prepare(ctx, id, img); err != nil {
					t.Fatal(err)
				}
			}
			if held, _ := holds(labels()); held {
				t.Error("a hold outlives the container's snapshot")
			}
			if err := s.Release(ctx, id); err != nil {
				t.Fatal(err)
			}
			if _, containers, _ := s.Snapshots(ctx); len(containers) != 0 {
				t.Errorf("snapshots left: %v", containers)
			}
		})
	}
}
