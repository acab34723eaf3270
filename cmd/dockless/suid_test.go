package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// The trust-model tests run dockless the way a site installs it: a
// root-owned setuid copy, executed by ordinary test users. That copy is
// built with its policy path pointing into the test directory, since the
// policy path is fixed at build time and never taken from the environment.
var (
	suidBinary string
	suidPolicy string
	suidRoot   string // world-searchable directory the tests work in
)

// testUser is an ordinary account the setuid tests run as.
type testUser struct {
	Name     string
	UID, GID uint32
	Groups   []uint32
	Home     string
}

var (
	alice = testUser{Name: "dltest-alice", UID: 61001, GID: 61001, Groups: []uint32{61001, 61010}}
	bob   = testUser{Name: "dltest-bob", UID: 61002, GID: 61002, Groups: []uint32{61002}}
)

// setupSuid builds the setuid binary and creates the test accounts.
func setupSuid(dir string) error {
	suidRoot = filepath.Join(dir, "suid")
	if err := os.MkdirAll(suidRoot, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	suidPolicy = filepath.Join(suidRoot, "dockless.toml")
	suidBinary = filepath.Join(suidRoot, "dockless")
	build := exec.Command("go", "build", "-tags", "seccomp",
		"-ldflags", "-X github.com/dockless/dockless/policy.DefaultPath="+suidPolicy, "-o", suidBinary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the setuid dockless: %w", err)
	}
	if err := os.Chmod(suidBinary, 0o755|os.ModeSetuid); err != nil {
		return err
	}
	if err := buildInit(suidRoot); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(suidRoot, "home"), 0o755); err != nil {
		return err
	}
	if err := ensureGroup("dltest-lab", 61010); err != nil {
		return err
	}
	for _, u := range []*testUser{&alice, &bob} {
		u.Home = filepath.Join(suidRoot, "home", u.Name)
		if err := ensureGroup(u.Name, int(u.GID)); err != nil {
			return err
		}
		if err := ensureUser(u); err != nil {
			return err
		}
		if err := os.MkdirAll(u.Home, 0o700); err != nil {
			return err
		}
		if err := os.Chown(u.Home, int(u.UID), int(u.GID)); err != nil {
			return err
		}
	}
	return nil
}

func ensureGroup(name string, gid int) error {
	if exec.Command("getent", "group", name).Run() == nil {
		return run("groupmod", "-g", strconv.Itoa(gid), name)
	}
	return run("groupadd", "-g", strconv.Itoa(gid), name)
}

// ensureUser makes u's account: no password ("*", which sshd lets log in
// with a key, where it refuses a locked account, "!", useradd's default).
func ensureUser(u *testUser) error {
	if exec.Command("getent", "passwd", u.Name).Run() == nil {
		return run("usermod", "-d", u.Home, "-g", fmt.Sprint(u.GID), "-p", "*", u.Name)
	}
	args := []string{"-u", fmt.Sprint(u.UID), "-g", fmt.Sprint(u.GID), "-M", "-d", u.Home, "-s", "/bin/sh", "-p", "*"}
	if len(u.Groups) > 1 {
		args = append(args, "-G", "dltest-lab")
	}
	return run("useradd", append(args, u.Name)...)
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %v: %s", name, args, err, out)
	}
	return nil
}

// writePolicy writes the setuid binary's policy (root-owned, 0644) with the
// env's store and state, plus extra TOML.
func (e *env) writePolicy(extra string) {
	e.t.Helper()
	if suidBinary == "" {
		e.t.Skip("setuid tests: need root and no -short")
	}
	body := fmt.Sprintf("[store]\nroot = %q\nstate = %q\ncontainerd_address = %q\n%s", e.root, e.state, e.containerd, extra)
	if err := os.WriteFile(suidPolicy, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { os.Remove(suidPolicy) })
}

// runAs runs the setuid dockless as u in dir with the given environment.
func (e *env) runAs(u testUser, dir string, environ []string, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(suidBinary, args...)
	cmd.Dir = dir
	cmd.Env = environ
	cmd.SysProcAttr = asUserAttr(u)
	return runCmd(e.t, cmd)
}

// userDir makes a directory (and parents, world-searchable) owned by u
// with mode.
func userDir(t *testing.T, p string, u testUser, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(p, mode); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	return p
}

// openTempDir makes t.TempDir() traversable by the test users.
func openTempDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for p := d; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// asUserAttr makes a command run as u.
func asUserAttr(u testUser) *syscall.SysProcAttr {
	groups := append([]uint32(nil), u.Groups...)
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: groups}}
}
