package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func me(t *testing.T) *Caller {
	t.Helper()
	c, err := CurrentCaller()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every path a user names is opened by a thread of dockless's own process:
// /proc would answer it about that (root) process, so no user path may
// lead onto a kernel filesystem or through a /proc magic link.
func TestUserPaths_KernelFilesystemsAndMagicLinksAreRefused(t *testing.T) {
	c := me(t)
	dir := t.TempDir()
	if err := os.Symlink("/proc/self/root", filepath.Join(dir, "to-root")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/proc/self", filepath.Join(dir, "to-self")); err != nil {
		t.Fatal(err)
	}
	open := map[string]func(string) error{
		"OpenFile":   func(p string) error { f, err := OpenFile(c, "env file", p); closeFile(f); return err },
		"OpenSource": func(p string) error { s, err := OpenSource(c, "volume", p, nil, false); closeSource(s); return err },
		"Stat":       func(p string) error { _, err := Stat(c, "job file", p); return err },
	}
	for _, tc := range []struct{ path, want string }{
		{"/proc/self/maps", "is on procfs"},
		{"/proc/self/environ", "is on procfs"},
		{"/proc/self", "is on procfs"},
		{filepath.Join(dir, "to-self", "status"), "is on procfs"},
		{"/proc/self/root", "magic link"},
		{"/proc/self/cwd", "magic link"},
		{"/proc/self/fd/0", "magic link"},
		{filepath.Join(dir, "to-root"), "magic link"},
		{"/proc/thread-self/root/etc", "magic link"},
		{"/sys/kernel", "is on sysfs"},
	} {
		for name, fn := range open {
			err := fn(tc.path)
			var pe *PathError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s(%s) = %v, want a refusal naming %q", name, tc.path, err, tc.want)
			}
		}
	}
	src, err := OpenSource(c, "volume", dir, nil, true)
	if err != nil {
		t.Fatalf("an ordinary directory: %v", err)
	}
	defer src.File.Close()
	if src.Real != dir {
		t.Errorf("real path %q, want %q", src.Real, dir)
	}
}

func TestWriteFile_StaysOffKernelFilesystems(t *testing.T) {
	c := me(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "new", "config.json")
	if err := WriteFile(c, "docker config", p, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != "{}\n" {
		t.Fatalf("written: %q %v", b, err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}
	if err := os.Symlink("/proc/self/cwd", filepath.Join(dir, "cwd")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(c, "docker config", filepath.Join(dir, "cwd", "config.json"), []byte("x"), 0o600); err == nil || !strings.Contains(err.Error(), "magic link") {
		t.Errorf("through /proc/self/cwd: %v", err)
	}
}

// Mount points in a host directory are opened beneath its handle, never
// through a symlink, and made only when asked (as the caller).
func TestMountPoint_BeneathTheHandleWithoutSymlinks(t *testing.T) {
	c := me(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	root, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, tc := range []struct {
		rel          string
		create, file bool
		want         string // "" for success
		made         string
	}{
		{"sub/deeper", false, false, "", ""},
		{"", false, false, "", ""},
		{"missing/x", false, false, "does not exist", ""},
		{"link/x", true, false, "is a symlink", ""},
		{"link", false, false, "is a symlink", ""},
		{"sub/made/here", true, false, "", "sub/made/here"},
		{"sub/file", true, true, "", "sub/file"},
		{"../escape", true, false, "", ""},
	} {
		f, err := MountPoint(c, root, tc.rel, tc.create, tc.file)
		switch {
		case tc.rel == "../escape":
			if err == nil {
				f.Close()
				t.Errorf("%q: a path out of the handle must fail", tc.rel)
			}
			if _, serr := os.Lstat(filepath.Join(filepath.Dir(dir), "escape")); serr == nil {
				t.Errorf("%q: made outside the handle", tc.rel)
			}
		case tc.want != "":
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%q: %v, want %q", tc.rel, err, tc.want)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.rel, err)
		default:
			f.Close()
		}
		if tc.made != "" {
			st, err := os.Lstat(filepath.Join(dir, tc.made))
			if err != nil || st.IsDir() == tc.file {
				t.Errorf("%q: made %v %v", tc.rel, st, err)
			}
		}
	}
}

func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}

func closeSource(s *Source) {
	if s != nil {
		s.File.Close()
	}
}
