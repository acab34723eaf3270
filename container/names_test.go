package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// TestReserveName_TheFileHoldsItsIDFromTheStart: a name file is only ever
// seen with its container's ID in it (a reaper removes a name only when
// the file names the dead container), a taken name is refused, and the
// staging copy does not outlive the reservation step.
func TestReserveName_TheFileHoldsItsIDFromTheStart(t *testing.T) {
	n := &Node{State: t.TempDir()}
	launchOf := func(name, id string) *launch {
		l := &launch{n: n, name: name, id: id, dir: n.dir(id)}
		if err := os.MkdirAll(l.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		return l
	}
	first := launchOf("job1", strings.Repeat("a", 64))
	release, err := first.reserveName()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(n.State, "names", "job1")
	if b, err := os.ReadFile(p); err != nil || string(b) != first.id {
		t.Fatalf("name file holds %q (%v), want the container's ID", b, err)
	}
	if _, err := os.Stat(filepath.Join(first.dir, "name")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the staged name file outlived the reservation: %v", err)
	}
	second := launchOf("job1", strings.Repeat("b", 64))
	var inUse *NameInUseError
	if _, err := second.reserveName(); !errors.As(err, &inUse) {
		t.Errorf("a taken name: got %v, want NameInUseError", err)
	}
	if b, _ := os.ReadFile(p); string(b) != first.id {
		t.Errorf("the refused reservation changed the name file to %q", b)
	}
	release()
	if _, err := second.reserveName(); err != nil {
		t.Errorf("the released name cannot be taken again: %v", err)
	}
}

// TestReserveName_ReclaimsTheNamesOfContainersThatAreGone: a name file
// left behind (an empty one by a dockless before names were linked into
// place, killed between creating and writing it; or one naming a container
// whose state is gone) gives its name back; the name of a container that
// exists, or an empty file a dockless may be writing now, does not.
func TestReserveName_ReclaimsTheNamesOfContainersThatAreGone(t *testing.T) {
	old := time.Now().Add(-2 * time.Minute)
	live := strings.Repeat("c", 64)
	for _, tc := range []struct {
		name     string
		content  string
		mtime    time.Time
		reclaims bool
	}{
		{"an empty file older than a minute", "", old, true},
		{"an empty file of now", "", time.Now(), false},
		{"the ID of a container that is gone", strings.Repeat("d", 64), time.Now(), true},
		{"the ID of a container that exists", live, old, false},
		{"not an ID", "job", old, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := &Node{State: t.TempDir(), Log: logrus.New()}
			if err := os.MkdirAll(n.dir(live), 0o700); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(n.State, "names", "job1")
			writeFile(t, p, tc.content)
			if err := os.Chtimes(p, tc.mtime, tc.mtime); err != nil {
				t.Fatal(err)
			}
			l := &launch{n: n, name: "job1", id: strings.Repeat("e", 64)}
			l.dir = n.dir(l.id)
			if err := os.MkdirAll(l.dir, 0o700); err != nil {
				t.Fatal(err)
			}
			_, err := l.reserveName()
			var inUse *NameInUseError
			switch b, _ := os.ReadFile(p); {
			case tc.reclaims && (err != nil || string(b) != l.id):
				t.Errorf("the name was not reclaimed: %v (the file holds %q)", err, b)
			case !tc.reclaims && (!errors.As(err, &inUse) || string(b) != tc.content):
				t.Errorf("got %v (the file holds %q), want the name in use and the file untouched", err, b)
			}
		})
	}
}
