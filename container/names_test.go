package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
