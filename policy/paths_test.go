package policy

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The main goroutine keeps the main thread: a goroutine that ends locked
// to the main thread wedges it instead of ending it, and
// TestAsUser_CallersCredentialsOnAThreadThatEnds waits for asUser's
// thread to end.
func init() { runtime.LockOSThread() }

// me is the test's own caller. Not root, it cannot take its own
// credentials on asUser's thread either (setgroups needs CAP_SETGID): the
// tests that open paths run as root.
func me(t *testing.T) *Caller {
	t.Helper()
	needRoot(t)
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

// Test identities: numeric ids only (asUser needs no account), apart from
// the end-to-end tests' dltest users. alice is in the group lab.
var (
	alice = &Caller{UID: 61501, GID: 61501, Groups: []uint32{61501, lab}, Name: "uid61501", Home: "/"}
	bob   = &Caller{UID: 61502, GID: 61502, Groups: []uint32{61502}, Name: "uid61502", Home: "/"}
)

const lab = 61510

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("taking another user's credentials needs root")
	}
}

// userTree is a fresh directory everyone may search, for files owned by
// the test identities.
func userTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	// t.TempDir makes its parent, the test's own directory, 0700 too.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mkdirOwned makes directory p with mode (umask aside), owned by uid:gid.
func mkdirOwned(t *testing.T, p string, mode os.FileMode, uid, gid int) {
	t.Helper()
	if err := os.Mkdir(p, mode); err != nil {
		t.Fatal(err)
	}
	own(t, p, mode, uid, gid)
}

// writeOwned makes file p holding data with mode, owned by uid:gid.
func writeOwned(t *testing.T, p, data string, mode os.FileMode, uid, gid int) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	own(t, p, mode, uid, gid)
}

func own(t *testing.T, p string, mode os.FileMode, uid, gid int) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// statusField is a line of a /proc/.../status file, without its name.
func statusField(status []byte, name string) string {
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// pidfdThread is PIDFD_THREAD (Linux 6.9): a pidfd of one thread, readable
// once that thread has ended.
const pidfdThread = unix.O_EXCL

// asUser's thread looks paths up with the caller's fsuid, fsgid and
// groups, and is never handed back to Go: it ends with fn's goroutine,
// and afterwards no thread of the process has the caller's credentials.
func TestAsUser_CallersCredentialsOnAThreadThatEnds(t *testing.T) {
	needRoot(t)
	var status []byte
	pidfd := -1
	err := asUser(alice, func() error {
		var err error
		if status, err = os.ReadFile("/proc/thread-self/status"); err != nil {
			return err
		}
		pidfd, err = unix.PidfdOpen(unix.Gettid(), pidfdThread)
		return err
	})
	if errors.Is(err, unix.EINVAL) {
		t.Skip("no PIDFD_THREAD (Linux before 6.9)")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	// Real, effective, saved, filesystem: only the last is the caller's.
	for field, want := range map[string]string{"Uid": "0\t0\t0\t61501", "Gid": "0\t0\t0\t61501", "Groups": "61501 61510"} {
		if got := statusField(status, field); got != want {
			t.Errorf("asUser's thread: %s %q, want %q", field, got, want)
		}
	}

	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 10_000)
	for errors.Is(err, unix.EINTR) {
		n, err = unix.Poll(fds, 10_000)
	}
	if err != nil || n != 1 {
		t.Fatalf("asUser's thread still runs 10s after fn returned (%d, %v): it went back to the Go scheduler with the caller's credentials", n, err)
	}
	leader, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		st, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "status"))
		if err != nil {
			continue // ended meanwhile
		}
		for _, field := range []string{"Uid", "Gid", "Groups"} {
			if got, want := statusField(st, field), statusField(leader, field); got != want {
				t.Errorf("thread %s: %s %q, the process's %q", task.Name(), field, got, want)
			}
		}
	}
}

// Every user path is opened with the caller's rights: another user's 0700
// directory keeps its files from the caller (root could open them), a
// group directory admits its group, a symlink is followed as the caller,
// and a directory the caller may read but not search is no mount source.
func TestUserPaths_OpenedWithTheCallersRights(t *testing.T) {
	needRoot(t)
	dir := userTree(t)
	p := func(rel string) string { return filepath.Join(dir, rel) }
	mkdirOwned(t, p("alice"), 0o700, 61501, 61501)
	writeOwned(t, p("alice/f"), "alice's", 0o600, 61501, 61501)
	mkdirOwned(t, p("bob"), 0o700, 61502, 61502)
	writeOwned(t, p("bob/f"), "bob's", 0o644, 61502, 61502)
	mkdirOwned(t, p("lab"), 0o770, 0, lab)
	writeOwned(t, p("lab/f"), "the lab's", 0o644, 0, 0)
	mkdirOwned(t, p("unsearchable"), 0o704, 61502, 61502)
	if err := os.Symlink(p("bob/f"), p("alice/to-bob")); err != nil {
		t.Fatal(err)
	}

	const denied = "permission denied"
	for _, tc := range []struct {
		who  *Caller
		path string
		want string // the refusal's Why; "" to open it
	}{
		{alice, "alice/f", ""},
		{bob, "bob/f", ""},
		{alice, "bob/f", denied},
		{bob, "alice/f", denied},
		{alice, "lab/f", ""},
		{bob, "lab/f", denied},
		{alice, "alice/to-bob", denied},
		{bob, "alice/to-bob", denied}, // bob's own file, through alice's directory
	} {
		f, err := OpenFile(tc.who, "env file", p(tc.path))
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s opens %s: %v", tc.who.Name, tc.path, err)
				continue
			}
			b, _ := io.ReadAll(f)
			f.Close()
			if len(b) == 0 {
				t.Errorf("%s opens %s: read nothing", tc.who.Name, tc.path)
			}
			continue
		}
		closeFile(f)
		if want := (&PathError{"env file", p(tc.path), tc.want}); !samePathError(err, want) {
			t.Errorf("%s opens %s: %v, want %v", tc.who.Name, tc.path, err, want)
		}
		if _, err := Stat(tc.who, "job file", p(tc.path)); !samePathError(err, &PathError{"job file", p(tc.path), denied}) {
			t.Errorf("%s stats %s: %v, want it refused", tc.who.Name, tc.path, err)
		}
	}
	root := me(t)
	if !root.IsRoot() {
		t.Fatal("the test runs as root")
	}
	f, err := OpenFile(root, "env file", p("bob/f"))
	if err != nil {
		t.Fatalf("root opens bob/f: %v", err)
	}
	f.Close()

	src, err := OpenSource(alice, "volume", p("alice"), nil, true)
	if err != nil {
		t.Fatalf("alice's own directory: %v", err)
	}
	src.File.Close()
	_, err = OpenSource(bob, "volume", p("alice"), nil, true)
	if !samePathError(err, &PathError{"volume", p("alice"), denied}) {
		t.Errorf("bob mounts alice's directory: %v", err)
	}
	_, err = OpenSource(alice, "volume", p("unsearchable"), nil, true)
	if !samePathError(err, &PathError{"volume", p("unsearchable"), "not accessible to uid61501: permission denied"}) {
		t.Errorf("a directory alice may read but not search: %v", err)
	}
}

func samePathError(err error, want *PathError) bool {
	var pe *PathError
	return errors.As(err, &pe) && *pe == *want && err.Error() == want.What+" "+want.Path+": "+want.Why
}

// A file dockless makes for the caller is made as the caller, where the
// caller may, and never over an existing file or a symlink.
func TestCreateFile_AsTheCallerNeverOverAnything(t *testing.T) {
	needRoot(t)
	dir := userTree(t)
	mkdirOwned(t, filepath.Join(dir, "alice"), 0o700, 61501, 61501)
	mkdirOwned(t, filepath.Join(dir, "bob"), 0o755, 61502, 61502)
	made := filepath.Join(dir, "alice", "cid")
	f, err := CreateFile(alice, "cidfile", made)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	var st unix.Stat_t
	if err := unix.Lstat(made, &st); err != nil || st.Uid != 61501 || st.Gid != 61501 {
		t.Errorf("made %s owned %d:%d (%v), want alice's", made, st.Uid, st.Gid, err)
	}
	target := filepath.Join(dir, "alice", "target")
	link := filepath.Join(dir, "alice", "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, why string }{
		{made, "exists"},
		{link, "exists"},
		{filepath.Join(dir, "bob", "cid"), "permission denied"},
		{filepath.Join(dir, "missing", "cid"), "does not exist"},
	} {
		f, err := CreateFile(alice, "cidfile", tc.path)
		closeFile(f)
		if !samePathError(err, &PathError{"cidfile", tc.path, tc.why}) {
			t.Errorf("CreateFile(%s) = %v, want %q", tc.path, err, tc.why)
		}
	}
	if _, err := os.Lstat(target); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the symlink's target was made: %v", err)
	}
	if b, _ := os.ReadFile(made); len(b) != 0 {
		t.Errorf("the existing file was written: %q", b)
	}
}

// A mount source is checked where its symlinks lead, against the
// prefixes, on a path boundary; what is opened is what was checked.
func TestOpenSource_SymlinksResolvedThenCheckedAgainstThePrefixes(t *testing.T) {
	needRoot(t)
	dir := userTree(t)
	p := func(rel string) string { return filepath.Join(dir, rel) }
	for _, d := range []string{"storage1", "storage1/data", "storage10", "storage10/data", "home"} {
		mkdirOwned(t, p(d), 0o755, 61501, 61501)
	}
	writeOwned(t, p("storage1/file"), "x", 0o644, 61501, 61501)
	for link, target := range map[string]string{
		"home/in":         p("storage1/data"),
		"home/relative":   "../storage1/data",
		"storage1/out":    p("home"),
		"storage1/to-10":  "../storage10/data",
		"storage1/nowere": p("missing"),
	} {
		if err := os.Symlink(target, p(link)); err != nil {
			t.Fatal(err)
		}
	}
	prefixes := []string{p("storage1")}
	outside := func(real string) string {
		return "resolves to " + real + ", which is not under an allowed prefix (" + p("storage1") + ")"
	}
	for _, tc := range []struct {
		path     string
		dirsOnly bool
		real     string // the path checked and opened, or
		why      string // the refusal
	}{
		{p("storage1"), true, p("storage1"), ""},
		{p("storage1/data"), true, p("storage1/data"), ""},
		{p("storage1/file"), false, p("storage1/file"), ""},
		{p("home/in"), true, p("storage1/data"), ""},
		{p("home/relative"), true, p("storage1/data"), ""},
		{p("storage1/data/../data/"), true, p("storage1/data"), ""},
		{p("storage10/data"), true, "", outside(p("storage10/data"))},
		{p("storage1/to-10"), true, "", outside(p("storage10/data"))},
		{p("storage1/out"), true, "", outside(p("home"))},
		{p("home"), true, "", outside(p("home"))},
		{p("storage1/nowere"), true, "", "does not exist"},
		{p("storage1/file"), true, "", "is not a directory: file binds are refused by [volumes] directories_only"},
		{"storage1/data", true, "", "must be an absolute path"},
	} {
		src, err := OpenSource(alice, "volume", tc.path, prefixes, tc.dirsOnly)
		if tc.why != "" {
			closeSource(src)
			if !samePathError(err, &PathError{"volume", tc.path, tc.why}) {
				t.Errorf("%s: %v, want %q", tc.path, err, tc.why)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		opened, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(int(src.File.Fd())))
		src.File.Close()
		if src.Path != tc.path || src.Real != tc.real || opened != tc.real {
			t.Errorf("%s: Path %q, Real %q, opened %q; want Real and opened %q", tc.path, src.Path, src.Real, opened, tc.real)
		}
	}
	src, err := OpenSource(alice, "volume", p("storage1/out"), nil, true)
	if err != nil || src.Real != p("home") {
		t.Errorf("no prefixes: anywhere (%v, %v)", src, err)
	}
	closeSource(src)
}

// Beside TestUnderPrefix_OnPathBoundaries: a longer name that shares the
// prefix's characters is not under it, a prefix is the same however it is
// written, and a prefix that is a symlink on the node admits its target's
// paths (the real paths OpenSource checks), not the other way round.
func TestUnderPrefix_SpellingsAndSymlinkedPrefixes(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path     string
		prefixes []string
		want     bool
	}{
		{"/storage10", []string{"/storage1"}, false},
		{"/storage10/x", []string{"/storage1"}, false},
		{"/storage1", []string{"/storage1/"}, true},
		{"/storage1/x", []string{"/storage1/"}, true},
		{"/storage10", []string{"/storage1/"}, false},
		{"/storage1/x", []string{"/storage1//"}, true},
		{"/storage1/x", []string{"/storage1/."}, true},
		{"/anything/at/all", []string{"/"}, true},
		{"/storage1", nil, false},
		{filepath.Join(dir, "real", "x"), []string{filepath.Join(dir, "alias")}, true},
		{filepath.Join(dir, "real"), []string{filepath.Join(dir, "alias")}, true},
		{filepath.Join(dir, "realx"), []string{filepath.Join(dir, "alias")}, false},
		{filepath.Join(dir, "alias", "x"), []string{filepath.Join(dir, "real")}, false},
	} {
		if got := UnderPrefix(tc.path, tc.prefixes); got != tc.want {
			t.Errorf("UnderPrefix(%q, %q) = %v, want %v", tc.path, tc.prefixes, got, tc.want)
		}
	}
}

// Each refusal of a user path is a *PathError naming what, the path as
// given and why, in that order in its message.
func TestUserPaths_RefusalsArePathErrors(t *testing.T) {
	c := me(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	kernel := func(fs string) string {
		return "is on " + fs + ", the kernel's own filesystem: refused by the trust model (dockless opens only ordinary files and directories for you)"
	}
	for _, tc := range []struct {
		path, why string
	}{
		{filepath.Join(dir, "missing"), "does not exist"},
		{filepath.Join(file, "below"), "not a directory"},
		{"relative/env", "must be an absolute path"},
		{dir, "not a regular file"},
		{fifo, "is neither a directory nor a regular file"},
		{"/proc/self/status", kernel("procfs")},
		{"/sys/kernel/mm", kernel("sysfs")},
	} {
		f, err := OpenFile(c, "env file", tc.path)
		closeFile(f)
		if !samePathError(err, &PathError{"env file", tc.path, tc.why}) {
			t.Errorf("OpenFile(%s) = %v, want %q", tc.path, err, tc.why)
		}
	}
}

// The kernel's filesystems are refused to a user as to root: the thread
// that opens a user's path belongs to dockless's root process, whatever
// its credentials.
func TestUserPaths_KernelFilesystemsAreRefusedToTheUser(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct{ path, fs string }{
		{"/proc/self/status", "procfs"},
		{"/proc/self", "procfs"},
		{"/proc/1", "procfs"},
		{"/sys/kernel", "sysfs"},
	} {
		src, err := OpenSource(alice, "volume", tc.path, nil, false)
		closeSource(src)
		var pe *PathError
		if !errors.As(err, &pe) || !strings.HasPrefix(pe.Why, "is on "+tc.fs+",") {
			t.Errorf("alice's volume %s: %v, want it refused as on %s", tc.path, err, tc.fs)
		}
	}
}

// As the caller, a mount point is made only where the caller may make it,
// is theirs, and is never reached through a symlink, even one that stays
// beneath the handle.
func TestMountPoint_AsTheCaller(t *testing.T) {
	needRoot(t)
	dir := userTree(t)
	mkdirOwned(t, filepath.Join(dir, "alice"), 0o755, 61501, 61501)
	mkdirOwned(t, filepath.Join(dir, "alice", "sub"), 0o755, 61501, 61501)
	mkdirOwned(t, filepath.Join(dir, "alice", "roots"), 0o755, 0, 0)
	if err := os.Symlink("sub", filepath.Join(dir, "alice", "to-sub")); err != nil {
		t.Fatal(err)
	}
	handle, err := os.Open(filepath.Join(dir, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer handle.Close()
	for _, tc := range []struct {
		rel          string
		create, file bool
		why          string // "" to open it
		failed       string // the component refused
	}{
		{"sub/made/deep", true, false, "", ""},
		{"sub/made/file", true, true, "", ""},
		{"to-sub", false, false, "is a symlink: mount points in host directories are never reached through one", "to-sub"},
		{"to-sub/x", true, false, "is a symlink: mount points in host directories are never reached through one", "to-sub"},
		{"roots/x", true, false, "permission denied", "roots/x"},
		{"roots/x", true, true, "permission denied", "roots/x"},
	} {
		f, err := MountPoint(alice, handle, tc.rel, tc.create, tc.file)
		if tc.why != "" {
			closeFile(f)
			if !samePathError(err, &PathError{"mount point", tc.failed, tc.why}) {
				t.Errorf("%s: %v, want %q", tc.rel, err, tc.why)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.rel, err)
			continue
		}
		f.Close()
		for p := filepath.Join(dir, "alice", tc.rel); p != filepath.Join(dir, "alice", "sub"); p = filepath.Dir(p) {
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil || st.Uid != 61501 || st.Gid != 61501 {
				t.Errorf("%s: made %s owned %d:%d (%v), want alice's", tc.rel, p, st.Uid, st.Gid, err)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "alice", "sub", "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("made beneath the symlink: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "alice", "roots", "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("made in root's directory: %v", err)
	}
}

// TestAsUser_RefusesWhenTheCallersIDsDoNotTake: setfsgid and setfsuid
// report nothing when they change nothing (an id the kernel refuses, here
// the invalid id -1); asUser reads each back and runs nothing with
// root's.
func TestAsUser_RefusesWhenTheCallersIDsDoNotTake(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name     string
		uid, gid uint32
		want     string
	}{
		{"the gid", 61501, ^uint32(0), "switching to the caller's gid 4294967295 failed"},
		{"the uid", ^uint32(0), 61501, "switching to the caller's uid 4294967295 failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ran := false
			err := asUser(&Caller{UID: tc.uid, GID: tc.gid, Groups: []uint32{61510}, Name: "nobody-valid"}, func() error {
				ran = true
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) || ran {
				t.Errorf("asUser = %v (fn ran: %v), want %q and fn not run", err, ran, tc.want)
			}
		})
	}
}
