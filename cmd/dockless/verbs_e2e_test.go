package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/console"
)

// TestVerbs_InspectNamesTheCgroupParent: inspect's HostConfig.CgroupParent
// is --cgroup-parent as docker reports it, not the container's own cgroup
// (none without it: TestVerbs_DockerShapes).
func TestVerbs_InspectNamesTheCgroupParent(t *testing.T) {
	e := newEnv(t)
	parent := fmt.Sprintf("/dockless-test-parent-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", parent))
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	})
	cmd, _, _ := e.startContainer(t, "parented", "--cgroup-parent", parent, busybox, "sleep", "100")
	if got := strings.TrimSpace(e.mustRun("inspect", "-f", "{{.HostConfig.CgroupParent}}", "parented")); got != parent {
		t.Errorf("inspect's CgroupParent: %q, want --cgroup-parent %s", got, parent)
	}
	e.mustRun("rm", "-f", "parented")
	_ = cmd.Wait()
}

func TestVerbs_DockerShapes(t *testing.T) {
	e := newEnv(t)
	cmd, _, pid := e.startContainer(t, "worker", "-m", "64m", busybox, "sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.1; done")

	ps := e.mustRun("ps")
	if !strings.HasPrefix(ps, "CONTAINER ID") || !strings.Contains(ps, "worker") || !strings.Contains(ps, "Up ") {
		t.Errorf("ps: %q", ps)
	}
	if q := strings.TrimSpace(e.mustRun("ps", "-q")); len(q) != 12 {
		t.Errorf("ps -q prints short IDs: %q", q)
	}
	var info []inspectInfo
	if err := json.Unmarshal([]byte(e.mustRun("inspect", "worker")), &info); err != nil || len(info) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	if info[0].State.Pid != pid || !info[0].State.Running || info[0].HostConfig.Memory != 64<<20 || info[0].Name != "/worker" || info[0].Usage == nil || info[0].Usage.Pids < 1 ||
		info[0].HostConfig.CgroupParent != "" {
		t.Errorf("inspect: %+v", info[0])
	}
	if f := e.mustRun("inspect", "-f", "{{.State.Status}} {{.Config.Hostname}}", "worker"); !strings.HasPrefix(f, "running ") {
		t.Errorf("inspect -f: %q", f)
	}
	stats := e.mustRun("stats", "--no-stream", "worker")
	if !strings.Contains(stats, "MEM USAGE / LIMIT") || !strings.Contains(stats, "/ 64MiB") {
		t.Errorf("stats: %q", stats)
	}
	if out := e.mustRun("exec", "worker", "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '"); !strings.Contains(out, "sh -c trap") {
		t.Errorf("exec joins the container's pid namespace: %q", out)
	}
	if r := e.run("exec", "-u", "1000", "-e", "X=1", "-w", "/tmp", "worker", "sh", "-c", "echo $(id -u) $X $(pwd); exit 4"); r.code != 4 || r.stdout != "1000 1 /tmp\n" {
		t.Errorf("exec -u -e -w and its exit status: %s", r)
	}
	e.mustRun("pause", "worker")
	if st := e.mustRun("ps", "--format", "{{.State}}"); strings.TrimSpace(st) != "paused" {
		t.Errorf("after pause: %q", st)
	}
	e.mustRun("unpause", "worker")
	if r := e.run("rm", "worker"); r.code != 125 || !strings.Contains(r.stderr, "stop the container") {
		t.Errorf("rm of a running container without -f: %s", r)
	}
	waited := make(chan string, 1)
	go func() { waited <- e.mustRun("wait", "worker") }()
	time.Sleep(200 * time.Millisecond)
	e.mustRun("stop", "-t", "5", "worker")
	if got := <-waited; strings.TrimSpace(got) != "3" {
		t.Errorf("wait prints the exit code: %q", got)
	}
	_ = cmd.Wait()
	if r := e.run("kill", "worker"); r.code != 125 || !strings.Contains(r.stderr, "No such container") {
		t.Errorf("a gone container: %s", r)
	}

	cmd2, _, _ := e.startContainer(t, "victim", busybox, "sleep", "100")
	e.mustRun("kill", "-s", "TERM", "victim") // pid 1 ignores TERM without a trap
	e.mustRun("rm", "-f", "victim")
	_ = cmd2.Wait()
	if cmd2.ProcessState.ExitCode() != 137 {
		t.Errorf("rm -f kills: exit %d", cmd2.ProcessState.ExitCode())
	}
}

// TestVerbs_HAndHelpAreContainerNames: urfave/cli would take a lone "h" or
// "help" argument for its help command.
func TestVerbs_HAndHelpAreContainerNames(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"h", "help"} {
		for _, verb := range [][]string{{"rm"}, {"kill"}, {"stop"}, {"inspect"}, {"wait"}, {"pause"}, {"exec", name, "true"}} {
			args := append(verb, name)
			if verb[0] == "exec" {
				args = verb
			}
			if r := e.run(args...); r.code != 125 || !strings.Contains(r.stderr, "No such container: "+name) {
				t.Errorf("dockless %v: %s", args, r)
			}
		}
	}
}

func TestVerbs_UsersTouchOnlyTheirOwnContainers(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "echo ready > $TMPDIR/ready; while :; do sleep 0.1; done")
	cmd := exec.Command(suidBinary, "lsf", "run", j.jobFile)
	cmd.Dir, cmd.Env = alice.Home, j.env
	cmd.SysProcAttr = asUserAttr(alice)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := filepath.Join(j.tmpdir, "ready")
	for i := 0; i < 300; i++ {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := e.runAs(alice, alice.Home, nil, "ps", "--format", "{{.Names}}"); !strings.HasPrefix(r.stdout, "lsf_"+testJobID+"_") {
		t.Fatalf("alice sees her job: %s", r)
	}
	if r := e.runAs(bob, bob.Home, nil, "ps", "-q"); r.code != 0 || r.stdout != "" {
		t.Errorf("bob sees nothing of alice's: %s", r)
	}
	name := strings.TrimSpace(e.runAs(alice, alice.Home, nil, "ps", "--format", "{{.Names}}").stdout)
	for _, args := range [][]string{{"kill", name}, {"exec", name, "id"}, {"inspect", name}, {"pause", name}, {"stop", name}} {
		if r := e.runAs(bob, bob.Home, nil, args...); r.code != 125 || !strings.Contains(r.stderr, "No such container") {
			t.Errorf("bob %v: %s", args, r)
		}
	}
	if r := e.runAs(bob, bob.Home, nil, "lsf", "exec", testJobID, "id"); r.code != 125 {
		t.Errorf("bob lsf exec into alice's job: %s", r)
	}
	r := e.runAs(alice, alice.Home, nil, "lsf", "exec", testJobID, "sh", "-c", "id -un; cat /proc/1/cmdline | tr '\\0' ' '")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "dltest-alice\n/bin/sh "+j.jobFile) {
		t.Errorf("alice lsf exec into her job: %s", r)
	}
	if r := e.runAs(alice, alice.Home, nil, "exec", "-u", "0", name, "id"); r.code != 125 || !strings.Contains(r.stderr, "allow_root") {
		t.Errorf("exec -u 0 as a user: %s", r)
	}
	if r := e.runAs(alice, alice.Home, nil, "system", "prune"); r.code != 125 {
		t.Errorf("system prune by a user: %s", r)
	}
	if r := e.runAs(alice, alice.Home, nil, "stop", "-t", "1", name); r.code != 0 {
		t.Errorf("alice stops her job: %s", r)
	}
	_ = cmd.Wait()
}

func TestRun_TTYUnderATerminal(t *testing.T) {
	e := newEnv(t)
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script (util-linux) not installed")
	}
	e.mustRun("pull", "-q", busybox)
	line := "stty rows 33 cols 77; " + binary + " --root " + e.root + " --state " + e.state + " run --rm -it " + busybox + " sh -c 'tty; stty size; exit 5'"
	out, err := exec.Command("script", "-qec", line, "/dev/null").CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "/dev/pts/0") || !strings.Contains(string(out), "33 77") {
		t.Fatalf("a TTY container gets a pty of the terminal's size: %q", out)
	}
	if ee == nil || ee.ExitCode() != 5 {
		t.Fatalf("exit status through the TTY: %v", err)
	}
}

// TestRun_TTYFollowsAResize: the container's terminal takes the host
// terminal's new size on SIGWINCH.
func TestRun_TTYFollowsAResize(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	master, slavePath, err := console.NewPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	if err := master.Resize(console.WinSize{Height: 33, Width: 77}); err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(slavePath, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	cmd := exec.Command(binary, "--root", e.root, "--state", e.state, "run", "--rm", "-q", "-it", busybox,
		"sh", "-c", "stty size; echo waiting; read x; stty size")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	read := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if strings.Contains(out.String(), "waiting") {
				select {
				case <-read:
				default:
					close(read)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-read:
	case <-time.After(30 * time.Second):
		t.Fatalf("no prompt: %q", out.String())
	}
	if err := master.Resize(console.WinSize{Height: 40, Width: 100}); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Process.Signal(syscall.SIGWINCH)
	time.Sleep(300 * time.Millisecond)
	if _, err := master.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the container did not exit")
	}
	time.Sleep(100 * time.Millisecond)
	if s := out.String(); !strings.Contains(s, "33 77") || !strings.Contains(s, "40 100") {
		t.Fatalf("sizes through the terminal: %q", s)
	}
}

// TestPull_ProgressBarsOnATerminal: per-layer bars on a terminal, plain
// lines otherwise (batch output).
func TestPull_ProgressBarsOnATerminal(t *testing.T) {
	e := newEnv(t)
	line := "stty cols 100 rows 40; " + binary + " --root " + e.root + " --state " + e.state + " pull " + busybox
	out, err := exec.Command("script", "-qec", line, "/dev/null").CombinedOutput()
	// The bars are redrawn in place (cursor up, clear): the last frame
	// counts, however often a loaded machine drew them.
	last := string(out)
	if i := strings.LastIndex(last, "\x1b[J"); i >= 0 {
		last = last[i:]
	}
	if err != nil || strings.Count(last, "100 %") != 3 {
		t.Fatalf("three layer bars on a terminal: %v %q", err, out)
	}
	e.mustRun("rmi", busybox)
	if plain := e.mustRun("pull", busybox); strings.Count(plain, "Pull complete") != 3 || strings.Contains(plain, "%") {
		t.Fatalf("plain lines in batch: %q", plain)
	}
}
