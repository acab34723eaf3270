package kit

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dockless/dockless/images"
)

// TestMarkUnsynced_EmptiesOnlyAStateTheNodeWentDownUnder: a state whose
// mark is of another boot (the node went down during a build) is emptied
// before anything opens it; one whose mark is of this boot (a build
// killed) is kept; the mark holds the boot id while a build runs and goes
// at its end.
func TestMarkUnsynced_EmptiesOnlyAStateTheNodeWentDownUnder(t *testing.T) {
	boot := images.BootID()
	if boot == "" {
		t.Skip("no boot id on this kernel")
	}
	for _, tc := range []struct {
		name string
		mark string // "": none
		kept bool
	}{
		{"no mark: the last build ended", "", true},
		{"this boot's mark: a build was killed", boot, true},
		{"another boot's mark: the node went down", "00000000-1111-2222-3333-444444444444", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			db := filepath.Join(root, unsyncedFiles[2])
			if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(db, []byte("records"), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.mark != "" {
				if err := os.WriteFile(filepath.Join(root, unsyncedMark), []byte(tc.mark), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			done, err := markUnsynced(root)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(db); (err == nil) != tc.kept {
				t.Errorf("the worker's database kept: %v, want %v", err == nil, tc.kept)
			}
			if b, err := os.ReadFile(filepath.Join(root, unsyncedMark)); err != nil || string(b) != boot {
				t.Errorf("the mark during the build: %q (%v), want the boot id %q", b, err, boot)
			}
			if err := done(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(root, unsyncedMark)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the mark outlived the build's end: %v", err)
			}
		})
	}
}
