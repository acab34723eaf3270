package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLibexec_OnlyRootsOwnHelpers: a helper is found beside dockless
// (../libexec/dockless/NAME, through a link to dockless too) only when it
// is root's, writable by no one else and not set-id, and every directory
// down to it is root's and writable by no one else (or sticky); each
// refusal names the path and the rule.
func TestLibexec_OnlyRootsOwnHelpers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (owners)")
	}
	for _, tc := range []struct {
		name   string
		spoil  func(t *testing.T, dir, prog string) // dir: libexec/dockless
		refuse string                               // "" : found
	}{
		{"root's and 0755", func(*testing.T, string, string) {}, ""},
		{"missing", func(t *testing.T, _, prog string) { must(t, os.Remove(prog)) }, "make install puts it there"},
		{"a group-writable directory", func(t *testing.T, dir, _ string) { must(t, os.Chmod(dir, 0o775)) }, "not writable by group or others"},
		{"an others-writable libexec", func(t *testing.T, dir, _ string) { must(t, os.Chmod(filepath.Dir(dir), 0o757)) }, "not writable by group or others"},
		{"a user's program", func(t *testing.T, _, prog string) { must(t, os.Chown(prog, 65534, 65534)) }, "must be a file of root's"},
		{"a setuid program", func(t *testing.T, _, prog string) { must(t, os.Chmod(prog, 0o755|os.ModeSetuid)) }, "not set-id"},
		{"a link in its place", func(t *testing.T, _, prog string) {
			must(t, os.Remove(prog))
			must(t, os.Symlink("/bin/true", prog))
		}, "must be a file of root's"},
		// dockless hard-linked into a user's directory: the user could swap
		// it for a link to root's tree between the check and the start.
		{"a user's directory above libexec", func(t *testing.T, dir, _ string) {
			must(t, os.Chown(filepath.Dir(filepath.Dir(dir)), 65534, 65534))
		}, "must be a directory of root's"},
		{"a group-writable directory above libexec", func(t *testing.T, dir, _ string) {
			must(t, os.Chmod(filepath.Dir(filepath.Dir(dir)), 0o775))
		}, "must be a directory of root's"},
		{"a sticky world-writable directory above libexec", func(t *testing.T, dir, _ string) {
			must(t, os.Chmod(filepath.Dir(filepath.Dir(dir)), 0o777|os.ModeSticky))
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			must(t, os.Chmod(root, 0o755))
			exe := filepath.Join(root, "bin", "dockless")
			dir := filepath.Join(root, "libexec", "dockless")
			prog := filepath.Join(dir, "dockless-helper")
			must(t, os.MkdirAll(filepath.Dir(exe), 0o755))
			must(t, os.MkdirAll(dir, 0o755))
			must(t, os.WriteFile(exe, nil, 0o755))
			must(t, os.WriteFile(prog, nil, 0o755))
			link := filepath.Join(root, "dockless-link")
			must(t, os.Symlink(exe, link))
			tc.spoil(t, dir, prog)
			got, err := libexecBeside(link, "dockless-helper")
			switch {
			case tc.refuse == "" && (err != nil || got != prog):
				t.Errorf("got %q, %v; want %s", got, err, prog)
			case tc.refuse != "" && (err == nil || !strings.Contains(err.Error(), tc.refuse)):
				t.Errorf("got %q, %v; want a refusal naming %q", got, err, tc.refuse)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
