package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
	"github.com/dockless/dockless/images"
	"github.com/sirupsen/logrus"
)

// The end-to-end tests build the real binary, serve real images from a
// registry on 127.0.0.1 and run real containers; they need root.
var (
	binary string
	reg    *testimage.Registry
	// busybox is the reference of the default test image.
	busybox string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() || os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: skipping end-to-end tests (need root and no -short)")
		os.Exit(m.Run())
	}
	logrus.SetLevel(logrus.ErrorLevel) // containerd's store warnings
	os.Exit(e2eMain(m))
}

func e2eMain(m *testing.M) int {
	// The test users' accounts (their home in /etc/passwd) belong to one
	// run at a time: a second run on the node waits for the first.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "dockless-e2e.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		defer lock.Close()
		err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "the end-to-end tests' lock:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "dockless-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// dir/bin/dockless, beside the setuid dir/suid/dockless: both find
	// the helpers in dir/libexec/dockless.
	binary = filepath.Join(dir, "bin", "dockless")
	build := exec.Command("go", "build", "-tags", "seccomp", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building dockless:", err)
		return 1
	}
	if err := buildInit(filepath.Dir(binary)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The small init of job containers, as make build puts it: every
	// container the tests start runs it.
	if err := os.MkdirAll(filepath.Join(dir, "libexec", "dockless"), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	runinit := exec.Command("go", "build", "-o", filepath.Join(dir, "libexec", "dockless", "dockless-runinit"), "../dockless-runinit")
	runinit.Env = append(os.Environ(), "CGO_ENABLED=0")
	runinit.Stdout, runinit.Stderr = os.Stderr, os.Stderr
	if err := runinit.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building dockless-runinit:", err)
		return 1
	}
	if err := setupSuid(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if reg, err = testimage.StartRegistry(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer reg.Close()
	img, err := testimage.Busybox(testimage.Options{})
	if err == nil {
		busybox, err = reg.Push("test/busybox:latest", img)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// buildInit builds dockless-init, the init of --init containers, into dir
// (beside a dockless, which finds it there), as make build does: static.
func buildInit(dir string) error {
	build := exec.Command("cc", "-static", "-Os", "-s", "-Wall", "-Wextra", "-Werror", "-o", filepath.Join(dir, "dockless-init"), "../dockless-init/init.c", "../dockless-init/loader.c")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building dockless-init: %w", err)
	}
	return nil
}

// env is one isolated dockless installation: its own store and state.
type env struct {
	t     *testing.T
	root  string
	state string
	// global are extra global flags (e.g. --containerd-address).
	global []string
	// containerd is the daemon holding the images, if not the embedded store.
	containerd string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if binary == "" {
		t.Skip("end-to-end test: needs root and no -short")
	}
	dir := t.TempDir()
	e := &env{t: t, root: filepath.Join(dir, "store"), state: filepath.Join(dir, "state")}
	t.Cleanup(e.assertClean)
	return e
}

// result is what one dockless command did.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// run runs dockless with the env's store and state and the given args.
func (e *env) run(args ...string) result {
	e.t.Helper()
	return e.runWith(nil, args...)
}

func (e *env) runWith(setup func(*exec.Cmd), args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(append([]string{"--root", e.root, "--state", e.state}, e.global...), args...)...)
	if setup != nil {
		setup(cmd)
	}
	return runCmd(e.t, cmd)
}

// runCmd runs cmd, capturing its output and exit status.
func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &errb
	}
	r, err := resultOf(&out, &errb, cmd.Run())
	if err != nil {
		t.Fatalf("running %v: %v", cmd.Args, err)
	}
	return r
}

// resultOf is what a command that wrote out and errb and ended with err
// did; an error that is not an exit status is returned.
func resultOf(out, errb *bytes.Buffer, err error) (result, error) {
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code, err = ee.ExitCode(), nil
	}
	return r, err
}

// mustRun runs and fails the test unless dockless exits 0.
func (e *env) mustRun(args ...string) string {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("dockless %v: %s", args, r)
	}
	return r.stdout
}

// assertClean checks that nothing of any container is left on the node:
// no mount of the env, no state, no container snapshot, no cgroup.
func (e *env) assertClean() {
	t := e.t
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mi), "\n") {
		if strings.Contains(line, e.state) || strings.Contains(line, e.root) {
			t.Errorf("mount left behind: %s", line)
		}
	}
	for _, sub := range []string{"containers", "names"} {
		entries, _ := os.ReadDir(filepath.Join(e.state, sub))
		for _, en := range entries {
			t.Errorf("state left behind: %s/%s", sub, en.Name())
		}
	}
	runc, _ := os.ReadDir(filepath.Join(e.state, "runc"))
	for _, en := range runc {
		t.Errorf("libcontainer state left behind: %s", en.Name())
	}
	if n := activeSnapshots(t, e.root); n != 0 {
		t.Errorf("%d active container snapshots left behind", n)
	}
	for _, id := range e.containerIDs() {
		if cg := findCgroup("dockless-" + id[:12]); cg != "" {
			t.Errorf("cgroup left behind: %s", cg)
		}
	}
}

// containerIDs lists the IDs this env's containers wrote to cidfiles.
func (e *env) containerIDs() []string {
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(e.root), "cid-*"))
	var ids []string
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && len(b) >= 12 {
			ids = append(ids, string(b))
		}
	}
	return ids
}

// cidfile returns a fresh cidfile path that assertClean will check.
func (e *env) cidfile(name string) string {
	return filepath.Join(filepath.Dir(e.root), "cid-"+name)
}

// activeSnapshots counts the containers' rootfs snapshots in the store,
// and checks the snapshotter holds no directory the store does not know.
func activeSnapshots(t *testing.T, root string) int {
	t.Helper()
	if _, err := os.Stat(root); err != nil {
		return 0
	}
	layers, containers, err := images.NewStore(root).Snapshots(context.Background())
	if err != nil {
		t.Fatalf("listing snapshots: %v", err)
	}
	dirs, _ := filepath.Glob(filepath.Join(root, "snapshots", "snapshots", "*"))
	if len(dirs) != len(layers)+len(containers) {
		t.Errorf("snapshotter has %d directories for %d snapshots: leftovers on disk", len(dirs), len(layers)+len(containers))
	}
	return len(containers)
}

// findCgroup returns the first v1 controller path that contains a
// directory named name, or "".
func findCgroup(name string) string {
	var found string
	_ = filepath.WalkDir("/sys/fs/cgroup", func(p string, d os.DirEntry, err error) error {
		if err != nil || found != "" {
			return filepath.SkipDir
		}
		if d.IsDir() && d.Name() == name {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	return found
}
