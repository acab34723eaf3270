package container

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dockless/dockless/policy"
	"github.com/sirupsen/logrus"
)

// TestReap_GoesOnPastContainersItCannotCleanUp leaves the containers of
// dead dockless processes behind, some whose snapshot cannot be released:
// Reap cleans up every other one, names each failure, and leaves the ones
// that failed for a later try.
func TestReap_GoesOnPastContainersItCannotCleanUp(t *testing.T) {
	ids := map[string]string{} // name: id
	for _, name := range []string{"a", "b", "c"} {
		ids[name] = strings.Repeat(name, 64)
	}
	for _, tc := range []struct {
		name  string
		stuck []string // whose cleanup fails
	}{
		{"the first one is stuck", []string{"a"}},
		{"two are stuck", []string{"a", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &fakeImages{releaseErr: map[string]error{}}
			n := &Node{Caller: &policy.Caller{Name: "root"}, Policy: policy.Default(), State: t.TempDir(), Images: store, Log: logrus.New()}
			for name, id := range ids {
				if err := os.MkdirAll(n.dir(id), 0o700); err != nil {
					t.Fatal(err)
				}
				// A launcher of pid 0 is no live process: its dockless died.
				if err := n.writeRecord(&Record{ID: id, Name: name}); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(n.State, "names", name), id)
			}
			for _, name := range tc.stuck {
				store.releaseErr[ids[name]] = errors.New("snapshot busy")
			}
			count, err := n.Reap()
			if want := len(ids) - len(tc.stuck); count != want {
				t.Errorf("Reap cleaned up %d containers, want %d", count, want)
			}
			for name, id := range ids {
				stuck := slices.Contains(tc.stuck, name)
				_, serr := os.Stat(n.dir(id))
				switch {
				case stuck && (err == nil || !strings.Contains(err.Error(), "cleaning up container "+id+": snapshot busy")):
					t.Errorf("the error does not name container %s: %v", name, err)
				case stuck && serr != nil:
					t.Errorf("container %s, not cleaned up, lost its record (%v): no later try can clean it up", name, serr)
				case !stuck && !errors.Is(serr, os.ErrNotExist):
					t.Errorf("container %s was not cleaned up (%v)", name, serr)
				case !stuck && exists(filepath.Join(n.State, "names", name)):
					t.Errorf("container %s's name is still reserved", name)
				}
			}
		})
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestReap_SweepsExitRecordsAtMostOnceAMinute: an exit record nobody
// waited for goes once it is ten minutes old, but the records are looked
// at no more than once every exitSweepEvery, however many starts reap.
func TestReap_SweepsExitRecordsAtMostOnceAMinute(t *testing.T) {
	n := &Node{Caller: &policy.Caller{Name: "root"}, Policy: policy.Default(), State: t.TempDir(), Images: &fakeImages{}, Log: logrus.New()}
	old := time.Now().Add(-11 * time.Minute)
	record := func(id string) string {
		p := n.exitPath(id)
		writeFile(t, p, "0")
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone := func(p string) bool { _, err := os.Stat(p); return errors.Is(err, os.ErrNotExist) }
	fresh := n.exitPath("fresh")
	first := record("first")
	writeFile(t, fresh, "0")
	if _, err := n.Reap(); err != nil {
		t.Fatal(err)
	}
	if !gone(first) || gone(fresh) {
		t.Fatalf("after the first reap: old record gone %v (want true), fresh one gone %v (want false)", gone(first), gone(fresh))
	}
	second := record("second")
	if _, err := n.Reap(); err != nil {
		t.Fatal(err)
	}
	if gone(second) {
		t.Fatalf("a reap within %s of the last sweep swept again", exitSweepEvery)
	}
	stamp := filepath.Join(n.State, exitsSwept)
	if err := os.Chtimes(stamp, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Reap(); err != nil {
		t.Fatal(err)
	}
	if !gone(second) || gone(fresh) {
		t.Fatalf("once the last sweep is old: old record gone %v (want true), fresh one gone %v (want false)", gone(second), gone(fresh))
	}
}
