package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/dockless/dockless/container"
	"github.com/dockless/dockless/hack/testimage"
	"github.com/dockless/dockless/images"
)

// startContainer runs `dockless run --rm --cidfile ... ARGS` in the
// background and returns the command and the init's host pid.
func (e *env) startContainer(t *testing.T, name string, args ...string) (*exec.Cmd, *strings.Builder, int) {
	t.Helper()
	cid := e.cidfile(name)
	cmd := exec.Command(binary, append([]string{"--root", e.root, "--state", e.state, "run", "--rm", "-q", "--name", name, "--cidfile", cid}, args...)...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, out, waitForInit(t, cid)
}

func TestLifecycle_SignalsReachTheInit(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	for i, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			code := 10 + i
			cmd, out, _ := e.startContainer(t, fmt.Sprintf("sig%d", i), busybox, "sh", "-c",
				fmt.Sprintf("trap 'exit %d' %d; echo ready; while :; do sleep 0.1; done", code, int(sig)))
			waitOutput(t, out, "ready")
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			if got := cmd.ProcessState.ExitCode(); got != code {
				t.Fatalf("%v: want the trap's exit %d, got %d: %s", sig, code, got, out)
			}
		})
	}
}

func waitOutput(t *testing.T, out *strings.Builder, want string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if strings.Contains(out.String(), want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q in output: %s", want, out)
}

// TestLifecycle_StopAndContinue: bstop of an interactive job sends SIGTSTP,
// bresume SIGCONT; the whole container is frozen and thawed.
func TestLifecycle_StopAndContinue(t *testing.T) {
	e := newEnv(t)
	cmd, out, pid := e.startContainer(t, "suspend", busybox, "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /dev/shm/n; sleep 0.05; done")
	counter := func() int {
		b, _ := exec.Command("cat", fmt.Sprintf("/proc/%d/root/dev/shm/n", pid)).Output()
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	time.Sleep(300 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTSTP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if st := e.mustRun("ps", "--format", "{{.Names}} {{.State}}"); !strings.Contains(st, "suspend paused") {
		t.Fatalf("after SIGTSTP the container is frozen: %q", st)
	}
	a := counter()
	time.Sleep(400 * time.Millisecond)
	if b := counter(); b != a {
		t.Fatalf("a frozen container's counter moved from %d to %d", a, b)
	}
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	if b := counter(); b <= a {
		t.Fatalf("after SIGCONT the counter must move on from %d, is %d (%s)", a, b, out)
	}
	e.mustRun("kill", "suspend")
	_ = cmd.Wait()
}

func TestLifecycle_OOMExits137WithOneLine(t *testing.T) {
	e := newEnv(t)
	r := e.run("run", "--rm", "-q", "-m", "16m", busybox, "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived")
	if r.code != 137 || !strings.Contains(r.stderr, "exceeded its memory limit of 16MiB") || strings.Contains(r.stdout, "survived") {
		t.Fatalf("OOM: %s", r)
	}
}

// TestLifecycle_KilledDocklessTakesItsContainer: SIGKILL of dockless kills
// the container (parent-death signal), and the next dockless cleans up
// the state, mounts, snapshot and cgroup it left (assertClean).
func TestLifecycle_KilledDocklessTakesItsContainer(t *testing.T) {
	e := newEnv(t)
	cmd, _, pid := e.startContainer(t, "orphan", busybox, "sleep", "100")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitDead(t, pid, "the container outlives its dockless")
	if st := e.mustRun("ps", "-a", "--format", "{{.Names}} {{.State}}"); !strings.Contains(st, "orphan dead") && !strings.Contains(st, "orphan stopped") {
		t.Fatalf("ps shows what is left: %q", st)
	}
	// The next container's start reaps what the dead dockless left.
	e.mustRun("run", "--rm", "-q", busybox, "true")
}

// TestLifecycle_KilledWhilePulling: a dockless killed mid-download leaves
// nothing corrupt; the next pull succeeds.
func TestLifecycle_KilledWhilePulling(t *testing.T) {
	e := newEnv(t)
	img, err := testimage.WithBigFile(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.Push("test/big:1", img)
	if err != nil {
		t.Fatal(err)
	}
	reg.SetDelay(true)
	cmd := exec.Command(binary, "--root", e.root, "--state", e.state, "run", "--rm", ref, "true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	reg.SetDelay(false)
	if out := e.mustRun("run", "--rm", "-q", ref, "sh", "-c", "wc -c < /big"); strings.TrimSpace(out) != strconv.Itoa(8<<20) {
		t.Fatalf("after an interrupted pull: %q", out)
	}
}

// TestLifecycle_ContainerCgroupIsBelowTheJobCgroup starts dockless inside a
// simulated LSF job cgroup (in every v1 controller) and checks that the
// container's cgroup is below it everywhere, and that freezing and killing
// the job cgroup reach the container.
func TestLifecycle_ContainerCgroupIsBelowTheJobCgroup(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	job := fmt.Sprintf("dltest-job-%d", rand.Intn(1<<30))
	jobDirs := makeJobCgroups(t, job)
	// The "job": a shell that joins the job cgroups, then execs dockless.
	var join strings.Builder
	for _, d := range jobDirs {
		fmt.Fprintf(&join, "echo $$ > %s/cgroup.procs && ", d)
	}
	cid := e.cidfile("job")
	cmd := exec.Command("sh", "-c", join.String()+"exec \"$@\"", "sh", binary, "--root", e.root, "--state", e.state,
		"run", "--rm", "-q", "--cidfile", cid, busybox, "sleep", "100")
	jobOut := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = jobOut, jobOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	pid := waitForInit(t, cid)
	cgs, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(cgs)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if parts[1] == "" || parts[1] == "rdma" || parts[1] == "misc" {
			continue
		}
		if !strings.Contains(parts[2], "/"+job+"/dockless-") {
			t.Errorf("controller %s: container cgroup %s is not below the job cgroup %s", parts[1], parts[2], job)
		}
	}
	// Freezing the job cgroup freezes the container.
	freezer := filepath.Join("/sys/fs/cgroup/freezer", ownCgroup(t, "freezer"), job)
	if err := os.WriteFile(filepath.Join(freezer, "freezer.state"), []byte("FROZEN"), 0o644); err != nil {
		t.Fatal(err)
	}
	child := strings.TrimSuffix(findCgroupUnder(freezer), "/")
	waitFile(t, filepath.Join(child, "freezer.state"), "FROZEN", "freezing the job cgroup freezes the container's")
	if err := os.WriteFile(filepath.Join(freezer, "freezer.state"), []byte("THAWED"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Killing every task of the job cgroup ends the container and dockless.
	for _, p := range tasksBelow(t, filepath.Join("/sys/fs/cgroup/pids", ownCgroup(t, "pids"), job)) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("killing the job cgroup did not end the job")
	}
	waitDead(t, pid, "the container survives the job's kill")
	e.mustRun("system", "prune")
}

// makeJobCgroups makes a simulated LSF job cgroup named job below this
// process's cgroup in every v1 controller, removed when the test ends.
func makeJobCgroups(t *testing.T, job string) []string {
	t.Helper()
	var jobDirs []string
	t.Cleanup(func() {
		for i := len(jobDirs) - 1; i >= 0; i-- {
			_ = os.Remove(jobDirs[i])
		}
	})
	for _, ctl := range v1Controllers(t) {
		dir := filepath.Join("/sys/fs/cgroup", ctl, ownCgroup(t, ctl), job)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		jobDirs = append(jobDirs, dir)
		if ctl == "cpuset" { // a new cpuset has no CPUs or memory nodes until given its parent's
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				b, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
				if err == nil {
					err = os.WriteFile(filepath.Join(dir, f), b, 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return jobDirs
}

func v1Controllers(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, c := range []string{"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c, "cgroup.procs")); err == nil {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Skip("no cgroup v1 hierarchies on this node")
	}
	return out
}

// ownCgroup is this process's cgroup in a v1 controller.
func ownCgroup(t *testing.T, ctl string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	name := ctl
	if ctl == "systemd" {
		name = "name=systemd"
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 {
			for _, c := range strings.Split(parts[1], ",") {
				if c == name {
					return parts[2]
				}
			}
		}
	}
	t.Fatalf("no %s cgroup", ctl)
	return ""
}

func tasksBelow(t *testing.T, dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "cgroup.procs" {
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(f); err == nil {
					pids = append(pids, n)
				}
			}
		}
		return nil
	})
	return pids
}

// waitFile waits until a file's content is want.
func waitFile(t *testing.T, path, want, what string) {
	t.Helper()
	var got []byte
	for i := 0; i < 100; i++ {
		got, _ = os.ReadFile(path)
		if strings.TrimSpace(string(got)) == want {
			return
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("%s: %s is %q, want %q", what, path, got, want)
}

// findCgroupUnder returns the dockless-* cgroup directory below dir.
func findCgroupUnder(dir string) string {
	matches, _ := filepath.Glob(filepath.Join(dir, "dockless-*"))
	if len(matches) == 0 {
		return dir
	}
	return matches[0]
}

// waitDead waits until pid is gone or a zombie.
func waitDead(t *testing.T, pid int, what string) {
	t.Helper()
	for i := 0; i < 250; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if s := string(b); strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal(what)
}

// TestLifecycle_ReapsEveryPhase builds by hand what a dockless killed after
// each phase leaves (record only; plus name and cidfile; plus the prepared
// snapshot; plus the mounted rootfs) with a launcher that is dead, and
// checks that system prune removes all of it (assertClean).
func TestLifecycle_ReapsEveryPhase(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	st := images.NewStore(e.root)
	img, err := st.Get(context.Background(), busybox)
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for phase := 0; phase < 4; phase++ {
		id := fmt.Sprintf("%064x", phase+1)
		dir := filepath.Join(e.state, "containers", id)
		if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o700); err != nil {
			t.Fatal(err)
		}
		r := container.Record{ID: id, Name: fmt.Sprintf("phase%d", phase), Launcher: dead.Process.Pid, LauncherStart: 1}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "record.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		if phase >= 1 {
			if err := os.MkdirAll(filepath.Join(e.state, "names"), 0o711); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(e.state, "names", r.Name), []byte(id), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if phase >= 2 {
			mounts, err := st.Prepare(context.Background(), id, img)
			if err != nil {
				t.Fatal(err)
			}
			if phase >= 3 {
				if err := mount.All(mounts, filepath.Join(dir, "rootfs")); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	out := e.mustRun("system", "prune")
	if !strings.Contains(out, "Cleaned up 4 containers") {
		t.Fatalf("system prune: %q", out)
	}
}
