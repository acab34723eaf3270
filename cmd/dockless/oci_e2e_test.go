package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ociEnv is an env plus the state directory (the OCI --root) of the
// containers made through `dockless oci`; its cleanup checks that every
// container, its cgroup and its state are gone.
type ociEnv struct {
	*env
	ociRoot string
}

func newOCIEnv(t *testing.T) *ociEnv {
	e := &ociEnv{env: newEnv(t)}
	e.ociRoot = filepath.Join(filepath.Dir(e.root), "oci-root")
	t.Cleanup(func() {
		entries, _ := os.ReadDir(e.ociRoot)
		for _, en := range entries {
			if en.Name() == runtime.OCISeccompCache {
				continue
			}
			t.Errorf("OCI container left behind: %s", en.Name())
			e.oci("delete", "--force", en.Name())
		}
	})
	return e
}

// oci runs `dockless oci --root OCIROOT ARGS...`. Its output goes to files,
// not pipes: a created or detached container keeps the runtime's stdio (as
// runc's does), and a pipe would not end while it runs.
func (e *ociEnv) oci(args ...string) result {
	e.t.Helper()
	return e.ociWith(nil, args...)
}

// ociWith is oci with setup (if set) changing the command first: its
// directory, its descriptors.
func (e *ociEnv) ociWith(setup func(*exec.Cmd), args ...string) result {
	e.t.Helper()
	dir := e.t.TempDir()
	var out, errOut *os.File
	r := e.runWith(func(cmd *exec.Cmd) {
		var err error
		if out, err = os.Create(filepath.Join(dir, "stdout")); err == nil {
			errOut, err = os.Create(filepath.Join(dir, "stderr"))
		}
		if err != nil {
			e.t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, errOut
		if setup != nil {
			setup(cmd)
		}
	}, append([]string{"oci", "--root", e.ociRoot}, args...)...)
	out.Close()
	errOut.Close()
	b, _ := os.ReadFile(out.Name())
	r.stdout = string(b)
	b, _ = os.ReadFile(errOut.Name())
	r.stderr = string(b)
	return r
}

func (e *ociEnv) mustOCI(args ...string) string {
	e.t.Helper()
	r := e.oci(args...)
	if r.code != 0 {
		e.t.Fatalf("dockless oci %v: %s", args, r)
	}
	return r.stdout
}

// state returns the container's runtime-spec State.
func (e *ociEnv) state(id string) specs.State {
	e.t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(e.mustOCI("state", id)), &st); err != nil {
		e.t.Fatalf("state JSON: %v", err)
	}
	return st
}

// waitStatus waits (up to 10 s) until the container has the status.
func (e *ociEnv) waitStatus(id string, want specs.ContainerState) {
	e.t.Helper()
	for range 100 {
		if e.state(id).Status == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("%s never became %s (now %s)", id, want, e.state(id).Status)
}

// ociBundle makes a bundle of the host's busybox whose config.json is what
// `dockless oci spec` writes (runc's template), not on a terminal, with a
// writable rootfs, a cgroup of its own and the changes of edit. It returns the bundle directory and the container's cgroup path.
func (e *ociEnv) ociBundle(edit func(*specs.Spec)) (string, string) {
	t := e.t
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "rootfs", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	busyboxBin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), busyboxBin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "sleep", "cat", "echo", "tty", "ps", "true"} {
		if err := os.Symlink("busybox", filepath.Join(bin, applet)); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"proc", "dev", "sys", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(dir, "rootfs", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "rootfs", "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	e.mustOCI("spec", "--bundle", dir)
	var s specs.Spec
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err == nil {
		err = json.Unmarshal(raw, &s)
	}
	if err != nil {
		t.Fatalf("config.json of oci spec: %v", err)
	}
	cgroup := fmt.Sprintf("/dockless-oci-test-%d", time.Now().UnixNano())
	s.Process.Terminal = false
	s.Process.Args = []string{"sleep", "1000"}
	s.Root.Readonly = false
	s.Linux.CgroupsPath = cgroup
	if edit != nil {
		edit(&s)
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), &s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p := findCgroup(filepath.Base(cgroup)); p != "" {
			t.Errorf("cgroup left behind: %s", p)
		}
	})
	return dir, cgroup
}

// ended waits (up to 5 s) until pid has exited: gone, or a zombie (a
// detached container's processes are reparented to the node's init, which
// reaps them in its own time).
func ended(pid int) bool {
	for range 50 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		if _, rest, ok := strings.Cut(string(b), ") "); ok && strings.HasPrefix(rest, "Z") {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// waitCmdline waits (up to 5 s) until process pid runs the command line
// want (it may still be in its execve) and returns the last one read.
func waitCmdline(pid int, want string) string {
	var cmd []byte
	for range 50 {
		if cmd, _ = os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); string(cmd) == want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return string(cmd)
}

func TestOCI_LifecycleFollowsTheRuntimeSpec(t *testing.T) {
	e := newOCIEnv(t)
	bundle, cgroup := e.ociBundle(nil)
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.mustOCI("create", "--bundle", bundle, "--pid-file", pidFile, "c1")

	raw := e.mustOCI("state", "c1")
	var fields map[string]any
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		t.Fatal(err)
	}
	for k := range fields {
		// runtime-spec's State, and what runc adds.
		if !slices.Contains([]string{"ociVersion", "id", "status", "pid", "bundle", "annotations", "rootfs", "created", "owner"}, k) {
			t.Errorf("state has field %q, in neither runtime-spec's State nor runc's", k)
		}
	}
	st := e.state("c1")
	if st.Version != specs.Version || st.ID != "c1" || st.Status != specs.StateCreated || st.Bundle != bundle {
		t.Errorf("state after create: %+v", st)
	}
	if b, _ := os.ReadFile(pidFile); string(b) != strconv.Itoa(st.Pid) {
		t.Errorf("--pid-file holds %q, state's pid is %d", b, st.Pid)
	}
	if cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.Pid)); strings.Contains(string(cmd), "sleep") {
		t.Errorf("created container already runs its process: %q", cmd)
	}

	e.mustOCI("start", "c1")
	e.waitStatus("c1", specs.StateRunning)
	if cmd := waitCmdline(st.Pid, "sleep\x001000\x00"); cmd != "sleep\x001000\x00" {
		t.Errorf("running container's pid %d runs %q, want sleep 1000", st.Pid, cmd)
	}
	if r := e.oci("start", "c1"); r.code == 0 {
		t.Errorf("second start of a running container succeeded")
	}

	e.mustOCI("pause", "c1")
	e.waitStatus("c1", specs.ContainerState("paused"))
	e.mustOCI("resume", "c1")
	e.waitStatus("c1", specs.StateRunning)

	var pids []int
	if err := json.Unmarshal([]byte(e.mustOCI("ps", "--format", "json", "c1")), &pids); err != nil || !slices.Contains(pids, st.Pid) {
		t.Errorf("ps --format json: %v %v, want the init's pid %d", pids, err, st.Pid)
	}
	var list []struct {
		ID     string `json:"id"`
		Pid    int    `json:"pid"`
		Status string `json:"status"`
		Bundle string `json:"bundle"`
	}
	if err := json.Unmarshal([]byte(e.mustOCI("list", "--format", "json")), &list); err != nil || len(list) != 1 ||
		list[0].ID != "c1" || list[0].Pid != st.Pid || list[0].Status != "running" || list[0].Bundle != bundle {
		t.Errorf("list --format json: %+v %v", list, err)
	}
	if got := e.mustOCI("list", "-q"); got != "c1\n" {
		t.Errorf("list -q: %q", got)
	}

	var ev struct {
		Type string `json:"type"`
		ID   string `json:"id"`
		Data struct {
			Memory struct {
				Usage struct {
					Limit uint64 `json:"limit"`
				} `json:"usage"`
			} `json:"memory"`
			Pids struct {
				Current uint64 `json:"current"`
			} `json:"pids"`
		} `json:"data"`
	}
	e.mustOCI("update", "--memory", "64m", "--pids-limit", "50", "c1")
	if err := json.Unmarshal([]byte(e.mustOCI("events", "--stats", "c1")), &ev); err != nil {
		t.Fatalf("events --stats: %v", err)
	}
	if ev.Type != "stats" || ev.ID != "c1" || ev.Data.Pids.Current != 1 || ev.Data.Memory.Usage.Limit != 64<<20 {
		t.Errorf("events --stats after update --memory 64 MiB: %+v", ev)
	}
	if b, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/pids", cgroup, "pids.max")); strings.TrimSpace(string(b)) != "50" {
		t.Errorf("pids.max after update --pids-limit 50: %q", b)
	}

	if r := e.oci("delete", "c1"); r.code == 0 {
		t.Errorf("delete of a running container without --force succeeded")
	}
	e.mustOCI("kill", "c1", "KILL")
	e.waitStatus("c1", specs.StateStopped)
	e.mustOCI("delete", "c1")
	if r := e.oci("state", "c1"); r.code == 0 || !strings.Contains(r.stderr, "c1") {
		t.Errorf("state of a deleted container: %s", r)
	}
	if !ended(st.Pid) {
		t.Errorf("init %d still runs after delete", st.Pid)
	}
}

func TestOCI_KillTakesRuncsSignalForms(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"default is SIGTERM", nil},
		{"name", []string{"TERM"}},
		{"SIG name", []string{"SIGTERM"}},
		{"number", []string{"15"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOCIEnv(t)
			bundle, _ := e.ociBundle(func(s *specs.Spec) {
				s.Process.Args = []string{"sh", "-c", `trap "echo TERM > /got; exit 0" TERM; touch /ready; while :; do sleep 0.1; done`}
			})
			e.mustOCI("run", "--detach", "--bundle", bundle, "k")
			for i := 0; ; i++ { // until the trap is set
				if _, err := os.Stat(filepath.Join(bundle, "rootfs", "ready")); err == nil {
					break
				}
				if i == 100 {
					t.Fatal("the container's shell never set its trap")
				}
				time.Sleep(50 * time.Millisecond)
			}
			e.mustOCI(append([]string{"kill", "k"}, tc.args...)...)
			e.waitStatus("k", specs.StateStopped)
			e.mustOCI("delete", "k")
			if b, _ := os.ReadFile(filepath.Join(bundle, "rootfs", "got")); string(b) != "TERM\n" {
				t.Errorf("the container's trap saw %q", b)
			}
		})
	}
	t.Run("unknown signal", func(t *testing.T) {
		e := newOCIEnv(t)
		if r := e.oci("kill", "k", "SIGNOPE"); r.code != 1 || !strings.Contains(r.stderr, "NOPE") {
			t.Errorf("kill with an unknown signal: %s", r)
		}
	})
}

func TestOCI_KillAllAndForcedDeleteEndEveryProcess(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(e *ociEnv)
	}{
		{"kill --all", func(e *ociEnv) {
			e.mustOCI("kill", "--all", "k", "KILL")
			e.waitStatus("k", specs.StateStopped)
			e.mustOCI("delete", "k")
		}},
		{"delete --force", func(e *ociEnv) { e.mustOCI("delete", "--force", "k") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOCIEnv(t)
			// The init ignores SIGTERM and has children of its own.
			bundle, _ := e.ociBundle(func(s *specs.Spec) {
				s.Process.Args = []string{"sh", "-c", `trap "" TERM; sleep 1000 & sleep 1000 & wait`}
			})
			e.mustOCI("run", "-d", "--bundle", bundle, "k")
			e.waitStatus("k", specs.StateRunning)
			var pids []int
			for range 50 {
				pids = nil
				_ = json.Unmarshal([]byte(e.mustOCI("ps", "--format", "json", "k")), &pids)
				if len(pids) == 3 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(pids) != 3 {
				t.Fatalf("want the init and two children, ps says %v", pids)
			}
			tc.end(e)
			for _, pid := range pids {
				if !ended(pid) {
					t.Errorf("process %d survived", pid)
				}
			}
		})
	}
}

func TestOCI_ExecRunsInTheContainer(t *testing.T) {
	e := newOCIEnv(t)
	bundle, _ := e.ociBundle(nil)
	e.mustOCI("run", "-d", "--bundle", bundle, "x")
	e.waitStatus("x", specs.StateRunning)
	initPid := e.state("x").Pid
	defer e.mustOCI("delete", "--force", "x")

	t.Run("args, env, cwd and exit status", func(t *testing.T) {
		r := e.oci("exec", "--env", "GREETING=hi", "--cwd", "/tmp", "x", "sh", "-c", `echo "$GREETING $(pwd)"; exit 7`)
		if r.code != 7 || r.stdout != "hi /tmp\n" {
			t.Errorf("exec: %s", r)
		}
	})
	t.Run("--process process.json", func(t *testing.T) {
		p := specs.Process{Args: []string{"sh", "-c", "echo $(id -u):$(id -g) $FROMJSON"}, Env: []string{"FROMJSON=yes", "PATH=/bin"},
			Cwd: "/", User: specs.User{UID: 1234, GID: 5678}}
		file := filepath.Join(t.TempDir(), "process.json")
		if err := writeJSON(file, &p); err != nil {
			t.Fatal(err)
		}
		if r := e.oci("exec", "--process", file, "x"); r.code != 0 || r.stdout != "1234:5678 yes\n" {
			t.Errorf("exec --process: %s", r)
		}
	})
	t.Run("--detach --pid-file", func(t *testing.T) {
		pidFile := filepath.Join(t.TempDir(), "pid")
		e.mustOCI("exec", "--detach", "--pid-file", pidFile, "x", "sleep", "1000")
		b, err := os.ReadFile(pidFile)
		pid, _ := strconv.Atoi(string(b))
		if err != nil || pid <= 0 {
			t.Fatalf("--pid-file: %q %v", b, err)
		}
		if cmd := waitCmdline(pid, "sleep\x001000\x00"); cmd != "sleep\x001000\x00" {
			t.Errorf("detached exec's pid %d runs %q", pid, cmd)
		}
		mine, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", initPid))
		if mine != theirs {
			t.Errorf("detached exec is in pid namespace %s, the container in %s", mine, theirs)
		}
	})
	t.Run("--tty --console-socket", func(t *testing.T) {
		sock, master := consoleSocket(t)
		// As runc: the terminal goes to a console socket only when the
		// runtime does not wait for the process.
		if r := e.oci("exec", "--tty", "--console-socket", sock, "x", "true"); r.code != 255 ||
			!strings.Contains(r.stderr, "cannot use console socket if runc will not detach or allocate tty") {
			t.Errorf("exec --tty --console-socket without --detach: %s", r)
		}
		e.mustOCI("exec", "--tty", "--detach", "--console-socket", sock, "x", "sh", "-c", "tty; exit 3")
		m := <-master
		if m == nil {
			t.Fatal("no pty master came over the console socket")
		}
		defer m.Close()
		buf := make([]byte, 256)
		_ = m.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := m.Read(buf)
		if !strings.HasPrefix(string(buf[:n]), "/dev/pts/") {
			t.Errorf("the process's terminal: %q", buf[:n])
		}
	})
	t.Run("a missing program", func(t *testing.T) {
		if r := e.oci("exec", "x", "/no/such/program"); r.code == 0 || !strings.Contains(r.stderr, "/no/such/program") {
			t.Errorf("exec of a missing program: %s", r)
		}
	})
}

// TestOCI_ContainersStartAsJobContainers: a container made through the OCI
// interface starts as a job container does (OCIOptions.Helpers): its
// init is dockless-runinit from its sealed copy, and its seccomp filter
// is compiled once per profile, kept in the root's cache (which list and
// delete leave alone), and loaded by dockless-init's loader, in the
// container's process and in one exec starts. The state shows none of
// dockless's labels.
func TestOCI_ContainersStartAsJobContainers(t *testing.T) {
	e := newOCIEnv(t)
	one := uint(1)
	profile := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &one}}}
	bundle, _ := e.ociBundle(func(s *specs.Spec) {
		s.Linux.Seccomp = profile
		s.Process.Args = []string{"sh", "-c", "mkdir /tmp/a; grep ^Seccomp: /proc/self/status"}
	})
	cache := filepath.Join(e.ociRoot, runtime.OCISeccompCache)
	for i := range 2 {
		r := e.oci("run", "--bundle", bundle, "x")
		if r.code != 0 || r.stdout != "Seccomp:\t2\n" || !strings.Contains(r.stderr, "can't create directory '/tmp/a': Operation not permitted") {
			t.Fatalf("run %d under the profile: %s", i+1, r)
		}
		if entries, err := os.ReadDir(cache); err != nil || len(entries) != 1 {
			t.Fatalf("run %d: the compiled filters in %s: %v (%v), want one", i+1, cache, entries, err)
		}
	}

	bundle, _ = e.ociBundle(func(s *specs.Spec) { s.Linux.Seccomp = profile })
	e.mustOCI("create", "--bundle", bundle, "y")
	defer e.mustOCI("delete", "--force", "y")
	st := e.state("y")
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.Pid)); err != nil || exe != "/dockless-runinit" {
		t.Errorf("the created container's init runs %q (%v), want dockless-runinit from its sealed copy", exe, err)
	}
	for k := range st.Annotations {
		if strings.HasPrefix(k, "dockless.") {
			t.Errorf("the state shows dockless's label %s", k)
		}
	}
	e.mustOCI("start", "y")
	e.waitStatus("y", specs.StateRunning)
	if r := e.oci("exec", "y", "sh", "-c", "mkdir /tmp/b"); r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("mkdir in an exec under the profile: %s", r)
	}
	if r := e.oci("list"); r.code != 0 || strings.Contains(r.stdout+r.stderr, runtime.OCISeccompCache) || !strings.Contains(r.stdout, "y ") {
		t.Errorf("list with the cache in the root: %s", r)
	}

	// A command that is not there is a create-time error, as runc's init
	// makes it (the init looks the loader up, dockless the command), and
	// an exec's error, not a process's exit status.
	if r := e.oci("exec", "y", "nosuch"); r.code != 255 || !strings.Contains(strings.ReplaceAll(r.stderr, `\"`, `"`), `exec failed: unable to start container process: exec: "nosuch": executable file not found in $PATH`) {
		t.Errorf("exec of a command not there: %s", r)
	}
	for _, tc := range []struct{ cmd, want string }{
		{"nosuch", `runc create failed: unable to start container process: error during container init: exec: "nosuch": executable file not found in $PATH`},
		{"/no/such", `runc create failed: unable to start container process: error during container init: exec: "/no/such": stat /no/such: no such file or directory`},
		{"/tmp", `runc create failed: unable to start container process: error during container init: exec: "/tmp": is a directory`},
	} {
		missing, _ := e.ociBundle(func(s *specs.Spec) {
			s.Linux.Seccomp = profile
			s.Process.Args = []string{tc.cmd}
		})
		// (The log line quotes the message: logrus's text format.)
		if r := e.oci("create", "--bundle", missing, "z"); r.code == 0 || !strings.Contains(strings.ReplaceAll(r.stderr, `\"`, `"`), tc.want) {
			t.Errorf("create of %s: %s, want %q", tc.cmd, r, tc.want)
			e.oci("delete", "--force", "z")
		}
	}
	sh, _ := e.ociBundle(func(s *specs.Spec) {
		s.Linux.Seccomp = profile
		s.Process.Args = []string{"sh", "-c", "exit 3"}
	})
	if r := e.oci("run", "--bundle", sh, "w"); r.code != 3 {
		t.Errorf("a command found along PATH: %s", r)
	}
}

// TestOCI_ExecOfABundleWithoutCapabilities: a bundle's process may have no
// capabilities at all; exec --cap then gives the process just those it
// names. A bundle whose config.json has no process fails with a message
// that says so.
func TestOCI_ExecOfABundleWithoutCapabilities(t *testing.T) {
	e := newOCIEnv(t)
	bundle, _ := e.ociBundle(func(s *specs.Spec) { s.Process.Capabilities = nil })
	e.mustOCI("run", "-d", "--bundle", bundle, "x")
	e.waitStatus("x", specs.StateRunning)
	defer e.mustOCI("delete", "--force", "x")

	t.Run("--cap", func(t *testing.T) {
		r := e.oci("exec", "--cap", "CAP_NET_RAW", "x", "sh", "-c", `while read k v; do [ "$k" = CapEff: ] && echo $v; done </proc/self/status; true`)
		if r.code != 0 || r.stdout != "0000000000002000\n" {
			t.Errorf("exec --cap CAP_NET_RAW in a container without capabilities: want only CAP_NET_RAW (bit 13) effective: %s", r)
		}
	})
	t.Run("no process in the bundle", func(t *testing.T) {
		config := filepath.Join(bundle, "config.json")
		saved, err := os.ReadFile(config)
		if err != nil {
			t.Fatal(err)
		}
		defer os.WriteFile(config, saved, 0o644)
		var s specs.Spec
		if err := json.Unmarshal(saved, &s); err != nil {
			t.Fatal(err)
		}
		s.Process = nil
		if err := writeJSON(config, &s); err != nil {
			t.Fatal(err)
		}
		r := e.oci("exec", "x", "true")
		if r.code == 0 || !strings.Contains(r.stderr, config+" has no process") || strings.Contains(r.stderr, "<nil>") {
			t.Errorf("exec when the bundle has no process: want a failure that says so: %s", r)
		}
	})
}

// consoleSocket listens on a unix socket as containerd's shim does and
// delivers the pty master the runtime sends over it.
func consoleSocket(t *testing.T) (string, <-chan *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	master := make(chan *os.File, 1)
	go func() {
		defer close(master)
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		oob := make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(make([]byte, 4096), oob)
		if err != nil {
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			return
		}
		master <- os.NewFile(uintptr(fds[0]), "pty-master")
	}()
	return path, master
}

func TestOCI_CreateOnATerminalSendsThePtyMaster(t *testing.T) {
	e := newOCIEnv(t)
	bundle, _ := e.ociBundle(func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"sh", "-c", "tty; sleep 1000"}
	})
	if r := e.oci("create", "--bundle", bundle, "t"); r.code != 1 || !strings.Contains(r.stderr, "cannot allocate tty if runc will detach without setting console socket") {
		t.Fatalf("create on a terminal without --console-socket: %s", r)
	}
	sock, master := consoleSocket(t)
	e.mustOCI("create", "--bundle", bundle, "--console-socket", sock, "t")
	defer e.mustOCI("delete", "--force", "t")
	m := <-master
	if m == nil {
		t.Fatal("no pty master came over the console socket")
	}
	defer m.Close()
	e.mustOCI("start", "t")
	buf := make([]byte, 256)
	_ = m.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _ := m.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "/dev/pts/0") {
		t.Errorf("the container's terminal: %q", buf[:n])
	}
}

// TestOCI_HooksRunAtTheirMoments gives a container every kind of hook; each
// appends its name and the state it was given on stdin to one log, which
// the container sees as /log (the process writes its line there too). The
// createContainer hook runs in the container's mount namespace before
// pivot_root (as in runc), so it still sees the host's paths.
func TestOCI_HooksRunAtTheirMoments(t *testing.T) {
	e := newOCIEnv(t)
	logDir := t.TempDir()
	log := filepath.Join(logDir, "hooks.log")
	hook := func(name, file string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `echo "$0 $(cat)" >> "$1"`, name, file}}
	}
	bundle, _ := e.ociBundle(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/log", Type: "bind", Source: logDir, Options: []string{"rbind"}})
		s.Process.Args = []string{"sh", "-c", "echo process >> /log/hooks.log"}
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart", log)}, //nolint:staticcheck // deprecated, still run
			CreateRuntime:   []specs.Hook{hook("createRuntime", log)},
			CreateContainer: []specs.Hook{hook("createContainer", log)}, // before pivot_root, as runc
			StartContainer:  []specs.Hook{hook("startContainer", "/log/hooks.log")},
			Poststart:       []specs.Hook{hook("poststart", log)},
			Poststop:        []specs.Hook{hook("poststop", log)},
		}
	})

	e.mustOCI("create", "--bundle", bundle, "h")
	e.mustOCI("start", "h")
	e.waitStatus("h", specs.StateStopped)
	e.mustOCI("delete", "h")

	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		name, stateJSON, _ := strings.Cut(line, " ")
		if name == "process" {
			got = append(got, name)
			continue
		}
		var st specs.State
		if err := json.Unmarshal([]byte(stateJSON), &st); err != nil || st.ID != "h" || st.Bundle != bundle {
			t.Errorf("%s hook got state %q (%v)", name, stateJSON, err)
			continue
		}
		got = append(got, name+":"+string(st.Status))
	}
	want := []string{"prestart:creating", "createRuntime:creating", "createContainer:creating",
		"startContainer:created", "process", "poststop:stopped"}
	// poststart runs in start once the init is let go, as runc's: at the
	// same time as the init's startContainer hooks and the (short)
	// process, so anywhere after createContainer and before poststop.
	post := slices.Index(got, "poststart:running")
	rest := slices.DeleteFunc(slices.Clone(got), func(h string) bool { return h == "poststart:running" })
	if !slices.Equal(rest, want) || post < 3 || post == len(got)-1 || len(got) != len(want)+1 {
		t.Errorf("hooks ran as\n%s\nwant\n%s\nwith poststart:running after createContainer, before poststop", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestOCI_RlimitsApplyUnderSeccomp is runtime-tools' process_rlimits case:
// a 1 GiB RLIMIT_AS (less than a Go init has reserved) and a small
// RLIMIT_DATA with docker's default seccomp profile, for a root and a non-root
// container process (lowering a non-root process's limits takes its ids
// where root lacks CAP_SYS_RESOURCE, as on the test VM).
func TestOCI_RlimitsApplyUnderSeccomp(t *testing.T) {
	for _, uid := range []uint32{0, 1000} {
		t.Run(fmt.Sprintf("uid %d", uid), func(t *testing.T) {
			e := newOCIEnv(t)
			bundle, _ := e.ociBundle(func(s *specs.Spec) {
				if err := spec.WithSeccomp("")(s); err != nil || s.Linux.Seccomp == nil {
					t.Fatalf("docker's default seccomp profile: %v", err)
				}
				s.Process.User = specs.User{UID: uid, GID: uid}
				s.Process.Args = []string{"sh", "-c", `l=$(ulimit -v; ulimit -d; ulimit -n; ulimit -c); echo "$l"; echo "$l" > /tmp/out`}
				s.Process.Rlimits = []specs.POSIXRlimit{
					{Type: "RLIMIT_AS", Hard: 2 << 30, Soft: 1 << 30},
					{Type: "RLIMIT_DATA", Hard: 64 << 20, Soft: 32 << 20},
					{Type: "RLIMIT_NOFILE", Hard: 4000, Soft: 3000},
					{Type: "RLIMIT_CORE", Hard: 4 << 30, Soft: 3 << 30},
				}
			})
			const want = "1048576\n32768\n3000\n6291456\n"
			r := e.oci("run", "--bundle", bundle, "r")
			if r.code != 0 || r.stdout != want {
				t.Errorf("rlimits inside (KiB of AS and data, files, 512-byte blocks of core): %s\nwant %q", r, want)
			}
			e.mustOCI("create", "--bundle", bundle, "c")
			e.mustOCI("start", "c")
			e.waitStatus("c", specs.StateStopped)
			e.mustOCI("delete", "c")
			if b, _ := os.ReadFile(filepath.Join(bundle, "rootfs", "tmp", "out")); string(b) != want {
				t.Errorf("rlimits inside after create and start: %q, want %q", b, want)
			}
		})
	}
}

func TestOCI_GlobalFlags(t *testing.T) {
	e := newOCIEnv(t)
	t.Run("--systemd-cgroup is refused", func(t *testing.T) {
		if r := e.oci("--systemd-cgroup", "list"); r.code != 1 || !strings.Contains(r.stderr, "--systemd-cgroup is not supported") {
			t.Errorf("%s", r)
		}
	})
	t.Run("--log --log-format json records the error", func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "log.json")
		r := e.oci("--log", logFile, "--log-format", "json", "state", "nosuch")
		if r.code != 1 {
			t.Fatalf("state of a missing container: %s", r)
		}
		b, _ := os.ReadFile(logFile)
		var entry struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(strings.SplitN(string(b), "\n", 2)[0]), &entry); err != nil ||
			entry.Level != "error" || !strings.Contains(entry.Msg, "nosuch") {
			t.Errorf("log file: %q (%v)", b, err)
		}
	})
	t.Run("--debug logs debug messages", func(t *testing.T) {
		bundle, _ := e.ociBundle(func(s *specs.Spec) { s.Process.Args = []string{"true"} })
		logFile := filepath.Join(t.TempDir(), "log")
		e.mustOCI("--debug", "--log", logFile, "run", "--bundle", bundle, "d")
		if b, _ := os.ReadFile(logFile); !strings.Contains(string(b), "level=debug") {
			t.Errorf("--debug log: %q", b)
		}
	})
	t.Run("--no-pivot --no-new-keyring", func(t *testing.T) {
		bundle, _ := e.ociBundle(func(s *specs.Spec) { s.Process.Args = []string{"echo", "in"} })
		if r := e.oci("run", "--no-pivot", "--no-new-keyring", "--bundle", bundle, "np"); r.code != 0 || r.stdout != "in\n" {
			t.Errorf("run --no-pivot --no-new-keyring: %s", r)
		}
	})
	t.Run("features", func(t *testing.T) {
		var f struct {
			OCIVersionMin, OCIVersionMax string
			Hooks                        []string
		}
		if err := json.Unmarshal([]byte(e.mustOCI("features")), &f); err != nil || f.OCIVersionMax != specs.Version || len(f.Hooks) != 6 {
			t.Errorf("features: %+v %v", f, err)
		}
	})
	t.Run("spec does not overwrite a config.json", func(t *testing.T) {
		dir := t.TempDir()
		e.mustOCI("spec", "--bundle", dir)
		if r := e.oci("spec", "--bundle", dir); r.code != 1 || !strings.Contains(r.stderr, "exists") {
			t.Errorf("second spec: %s", r)
		}
	})
}

// TestOCI_FailingHooks: a failing prestart, createRuntime or
// createContainer hook fails create and leaves nothing; a failing
// poststart hook fails start and stops the container; a failing poststop
// hook is only a warning (the runtime-spec's lifecycle).
func TestOCI_FailingHooks(t *testing.T) {
	fail := []specs.Hook{{Path: "/bin/false"}}
	for _, tc := range []struct {
		name    string
		hooks   specs.Hooks
		failsAt string
	}{
		{"prestart", specs.Hooks{Prestart: fail}, "create"}, //nolint:staticcheck // deprecated, still run
		{"createRuntime", specs.Hooks{CreateRuntime: fail}, "create"},
		{"createContainer", specs.Hooks{CreateContainer: fail}, "create"},
		{"poststart", specs.Hooks{Poststart: fail}, "start"},
		{"poststop", specs.Hooks{Poststop: fail}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newOCIEnv(t)
			bundle, _ := e.ociBundle(func(s *specs.Spec) { s.Hooks = &tc.hooks })
			r := e.oci("create", "--bundle", bundle, "f")
			if tc.failsAt == "create" {
				if r.code != 1 || !strings.Contains(r.stderr, tc.name) {
					t.Errorf("create with a failing %s hook: %s", tc.name, r)
				}
				if r := e.oci("state", "f"); r.code == 0 {
					t.Errorf("a container is left: %s", r.stdout)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("create: %s", r)
			}
			r = e.oci("start", "f")
			if tc.failsAt == "start" {
				if r.code != 1 || !strings.Contains(r.stderr, "poststart") {
					t.Errorf("start with a failing poststart hook: %s", r)
				}
				e.waitStatus("f", specs.StateStopped)
			} else {
				if r.code != 0 {
					t.Fatalf("start: %s", r)
				}
				e.mustOCI("kill", "f", "KILL")
				e.waitStatus("f", specs.StateStopped)
			}
			r = e.oci("delete", "f")
			if r.code != 0 || (tc.name == "poststop") != strings.Contains(r.stderr, "poststop") {
				t.Errorf("delete (a failing poststop hook is a warning): %s", r)
			}
		})
	}
}

// writeJSON writes v to path as config.json is written.
func writeJSON(path string, v any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(spec.WriteJSON(f, v), f.Close())
}
