package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The tests of this file pin what runc's own integration suite found
// dockless-runc doing differently from runc (issue 18); hack/runc-bats.sh
// runs that suite, TestRuncBats_NoWorseThanRunc a part of it.

// cgroupV2 reports whether the host has the unified hierarchy only.
func cgroupV2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// cgroupFile is the path of a cgroup file of the container's cgroup
// (cgroupsPath cg): v1's name in controller's hierarchy, or v2's; "" when
// the host has no such file (a kernel without the feature).
func cgroupFile(cg, controller, v1, v2 string) string {
	p := filepath.Join("/sys/fs/cgroup", controller, cg, v1)
	if cgroupV2() {
		p = filepath.Join("/sys/fs/cgroup", cg, v2)
	}
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

func readTrimmed(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

// statusField is a line of /proc/PID/status, or of the output of
// cat /proc/self/status.
func statusField(status, name string) string {
	for _, l := range strings.Split(status, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestOCI_SpecIsRuncsTemplate: `spec` writes runc's template, not docker's
// defaults (those are dockless run's): no new privileges, three
// capabilities, no seccomp filter.
func TestOCI_SpecIsRuncsTemplate(t *testing.T) {
	e := newOCIEnv(t)
	bundle, _ := e.ociBundle(func(s *specs.Spec) { s.Process.Args = []string{"cat", "/proc/self/status"} })
	r := e.oci("run", "--bundle", bundle, "s")
	if r.code != 0 {
		t.Fatalf("run: %s", r)
	}
	// CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10).
	for field, want := range map[string]string{"NoNewPrivs": "1", "CapBnd": "0000000020000420", "CapEff": "0000000020000420", "Seccomp": "0"} {
		if got := statusField(r.stdout, field); got != want {
			t.Errorf("%s: %q, want %q (runc's template)", field, got, want)
		}
	}
	var s specs.Spec
	raw, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err := json.Unmarshal(raw, &s); err != nil || s.Linux.Seccomp != nil || s.Hostname != "runc" {
		t.Errorf("config.json of spec: seccomp %+v hostname %q (%v)", s.Linux.Seccomp, s.Hostname, err)
	}
}

// TestOCI_FlagsAfterTheIDAreRuncs: runc takes a verb's flags after the
// container ID too (but exec's and ps's, which belong to the process), and
// refuses what it cannot take; nothing is ignored.
func TestOCI_FlagsAfterTheIDAreRuncs(t *testing.T) {
	e := newOCIEnv(t)
	bundle, cg := e.ociBundle(nil)
	e.mustOCI("run", "-d", "--bundle", bundle, "f")
	defer e.mustOCI("delete", "--force", "f")
	pidsMax := cgroupFile(cg, "pids", "pids.max", "pids.max")
	e.mustOCI("update", "f", "--pids-limit", "42")
	if got := readTrimmed(pidsMax); got != "42" {
		t.Errorf("update f --pids-limit 42: pids.max %q", got)
	}
	if r := e.oci("update", "f", "extra", "--pids-limit", "7"); r.code != 1 || !strings.Contains(r.stderr, `update\" requires exactly 1 argument(s)`) {
		t.Errorf("update with two arguments: %s", r)
	}
	if got := readTrimmed(pidsMax); got != "42" {
		t.Errorf("a refused update changed pids.max to %q", got)
	}
	if r := e.oci("state", "f", "extra"); r.code != 1 || !strings.Contains(r.stderr, `state\" requires exactly 1 argument(s)`) {
		t.Errorf("state with two arguments: %s", r)
	}
	if r := e.oci("exec", "f", "echo", "--env", "X"); r.code != 0 || r.stdout != "--env X\n" {
		t.Errorf("exec's arguments after the ID are the process's: %s", r)
	}
}

// TestOCI_UpdateSetsWhatRuncSets: update changes the limits runc's does,
// from its flags and from a LinuxResources file.
func TestOCI_UpdateSetsWhatRuncSets(t *testing.T) {
	disk := ""
	if entries, _ := filepath.Glob("/sys/block/*/dev"); len(entries) > 0 {
		for _, d := range entries {
			if name := filepath.Base(filepath.Dir(d)); !strings.HasPrefix(name, "loop") && !strings.HasPrefix(name, "ram") {
				disk = readTrimmed(d)
			}
		}
	}
	for _, tc := range []struct {
		name                string
		args                []string // of update, before the ID; FILE: a file of the JSON that follows
		json                string
		controller, v1, v2  string
		want1, want2        string // the file's content (v1, v2), or a line of it
		needsDisk, onlyOnV1 bool
	}{
		{name: "cpu.idle", args: []string{"--cpu-idle", "1"}, controller: "cpu", v1: "cpu.idle", v2: "cpu.idle", want1: "1", want2: "1"},
		{name: "cpu burst", args: []string{"--cpu-quota", "500000", "--cpu-period", "1000000", "--cpu-burst", "400000"},
			controller: "cpu", v1: "cpu.cfs_burst_us", v2: "cpu.max.burst", want1: "400000", want2: "400000"},
		{name: "realtime period and runtime", args: []string{"-r", "FILE"}, json: `{"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 400000}}`,
			controller: "cpu", v1: "cpu.rt_runtime_us", want1: "400000", onlyOnV1: true},
		{name: "per-device read bps", args: []string{"-r", "FILE"}, json: `{"blockIO": {"throttleReadBpsDevice": [{"major": MAJOR, "minor": MINOR, "rate": 10485760}]}}`,
			controller: "blkio", v1: "blkio.throttle.read_bps_device", v2: "io.max", want1: "DEV 10485760", want2: "DEV rbps=10485760", needsDisk: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needsDisk && disk == "" {
				t.Skip("no block device to limit")
			}
			if tc.onlyOnV1 && cgroupV2() {
				t.Skip("cgroup v2 has no realtime CPU limits")
			}
			e := newOCIEnv(t)
			bundle, cg := e.ociBundle(nil)
			e.mustOCI("run", "-d", "--bundle", bundle, "u")
			defer e.mustOCI("delete", "--force", "u")
			file := cgroupFile(cg, tc.controller, tc.v1, tc.v2)
			if file == "" {
				t.Skipf("this kernel has no %s", tc.v1)
			}
			major, minor, _ := strings.Cut(disk, ":")
			args := []string{"update"}
			for _, a := range tc.args {
				if a == "FILE" {
					a = filepath.Join(t.TempDir(), "resources.json")
					body := strings.NewReplacer("MAJOR", major, "MINOR", minor).Replace(tc.json)
					if err := os.WriteFile(a, []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				args = append(args, a)
			}
			e.mustOCI(append(args, "u")...)
			want := tc.want1
			if cgroupV2() {
				want = tc.want2
			}
			want = strings.ReplaceAll(want, "DEV", disk)
			if got := readTrimmed(file); got != want && !strings.Contains("\n"+got+"\n", "\n"+want+"\n") {
				t.Errorf("%s after update %v: %q, want %q", filepath.Base(file), tc.args, got, want)
			}
		})
	}
}

// TestOCI_ExecProcessKeepsItsSettings: a process of exec --process keeps
// its scheduler, I/O priority, CPU affinity and terminal size.
func TestOCI_ExecProcessKeepsItsSettings(t *testing.T) {
	e := newOCIEnv(t)
	bundle, _ := e.ociBundle(nil)
	e.mustOCI("run", "-d", "--bundle", bundle, "p")
	defer e.mustOCI("delete", "--force", "p")
	process := func(edit func(*specs.Process)) string {
		p := specs.Process{Args: []string{"sleep", "1000"}, Cwd: "/", Env: []string{"PATH=/bin"}}
		edit(&p)
		f := filepath.Join(t.TempDir(), "process.json")
		if err := writeJSON(f, &p); err != nil {
			t.Fatal(err)
		}
		return f
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.mustOCI("exec", "-d", "--pid-file", pidFile, "-p", process(func(p *specs.Process) {
		p.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 19}
		p.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_IDLE}
		p.ExecCPUAffinity = &specs.CPUAffinity{Final: "0"}
	}), "p")
	pid, _ := strconv.Atoi(readTrimmed(pidFile))
	stat := strings.Fields(readTrimmed(fmt.Sprintf("/proc/%d/stat", pid)))
	// Fields 19 and 41 of stat (after the command, which has no space
	// here): nice and scheduling policy (3 is SCHED_BATCH).
	if len(stat) < 41 || stat[18] != "19" || stat[40] != "3" {
		t.Errorf("exec's process: nice and policy %v, want 19 and SCHED_BATCH (3)", stat)
	}
	prio, _, errno := unix.Syscall(unix.SYS_IOPRIO_GET, 1 /* IOPRIO_WHO_PROCESS */, uintptr(pid), 0)
	if errno != 0 || prio>>13 != 3 /* IOPRIO_CLASS_IDLE */ {
		t.Errorf("exec's process: I/O priority %#x (%v), want the idle class", prio, errno)
	}
	if goruntime.NumCPU() > 1 {
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if got := statusField(string(status), "Cpus_allowed_list"); got != "0" {
			t.Errorf("exec's process: CPUs %q, want 0 (execCPUAffinity.final)", got)
		}
	}
	sock, master := consoleSocket(t)
	e.mustOCI("exec", "-d", "-t", "--console-socket", sock, "-p", process(func(p *specs.Process) {
		p.Terminal, p.ConsoleSize = true, &specs.Box{Height: 10, Width: 110}
	}), "p")
	m := <-master
	if m == nil {
		t.Fatal("no pty master came over the console socket")
	}
	defer m.Close()
	if ws, err := unix.IoctlGetWinsize(int(m.Fd()), unix.TIOCGWINSZ); err != nil || ws.Row != 10 || ws.Col != 110 {
		t.Errorf("exec's terminal: %+v (%v), want 10 rows of 110 columns", ws, err)
	}
}

// TestOCI_ExecIntoAPausedContainer: exec refuses a paused container at
// once (before, it hung until the container was resumed); with
// --ignore-paused the process joins the frozen container and runs once it
// is resumed.
func TestOCI_ExecIntoAPausedContainer(t *testing.T) {
	e := newOCIEnv(t)
	bundle, _ := e.ociBundle(nil)
	e.mustOCI("run", "-d", "--bundle", bundle, "z")
	defer e.mustOCI("delete", "--force", "z")
	e.mustOCI("pause", "z")
	if r := e.oci("exec", "z", "true"); r.code != 255 || !strings.Contains(r.stderr, "cannot exec in a paused container (use --ignore-paused to override)") {
		t.Errorf("exec into a paused container: %s", r)
	}
	var out strings.Builder
	cmd := exec.Command(binary, "--root", e.root, "--state", e.env.state, "oci", "--root", e.ociRoot, "exec", "--ignore-paused", "z", "echo", "ok")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The exec's process is in the container (frozen) once ps lists two.
	for i := 0; len(e.processes("z")) < 2; i++ {
		if i == 100 {
			t.Fatalf("exec --ignore-paused added no process: %v", e.processes("z"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.mustOCI("resume", "z")
	if err := cmd.Wait(); err != nil || out.String() != "ok\n" {
		t.Errorf("exec --ignore-paused, then resume: %v %q", err, out.String())
	}
}

// processes are the host pids of the container's processes.
func (e *ociEnv) processes(id string) []int {
	e.t.Helper()
	var pids []int
	_ = json.Unmarshal([]byte(e.mustOCI("ps", "--format", "json", id)), &pids)
	return pids
}

// TestOCI_DebugReachesTheInit: with --debug, the container's init and
// nsexec log what they do, as runc's do, to stderr or --log.
func TestOCI_DebugReachesTheInit(t *testing.T) {
	e := newOCIEnv(t)
	bundle, _ := e.ociBundle(func(s *specs.Spec) { s.Process.Args = []string{"true"} })
	logFile := filepath.Join(t.TempDir(), "log")
	e.mustOCI("--debug", "--log", logFile, "run", "--bundle", bundle, "d")
	initLines := []string{"nsexec container setup", "child process in init()", "init: closing the pipe to signal completion"}
	log, _ := os.ReadFile(logFile)
	for _, want := range initLines {
		if !strings.Contains(string(log), want) {
			t.Errorf("--debug --log run: no %q in\n%s", want, log)
		}
	}
	bundle, _ = e.ociBundle(nil)
	e.mustOCI("run", "-d", "--bundle", bundle, "x")
	defer e.mustOCI("delete", "--force", "x")
	r := e.oci("--debug", "exec", "x", "true")
	for _, want := range []string{"nsexec container setup", "child process in init()", "setns_init: about to exec"} {
		if r.code != 0 || !strings.Contains(r.stderr, want) {
			t.Errorf("--debug exec: no %q in %s", want, r)
		}
	}
}

// TestOCI_RuncsFlags: the flags and verbs of runc's that dockless-runc
// lacked work as runc's, or (checkpoint, restore) are refused saying so.
func TestOCI_RuncsFlags(t *testing.T) {
	t.Run("run --keep", func(t *testing.T) {
		e := newOCIEnv(t)
		bundle, cg := e.ociBundle(func(s *specs.Spec) { s.Process.Args = []string{"true"} })
		e.mustOCI("run", "--keep", "--bundle", bundle, "k")
		if st := e.state("k"); st.Status != specs.StateStopped {
			t.Errorf("after run --keep: %+v, want the container stopped", st)
		}
		if cgroupFile(cg, "pids", "pids.max", "pids.max") == "" {
			t.Errorf("after run --keep: the cgroup is gone")
		}
		e.mustOCI("delete", "k")
	})
	t.Run("--preserve-fds", func(t *testing.T) {
		e := newOCIEnv(t)
		f, err := os.CreateTemp(t.TempDir(), "fd")
		if err == nil {
			_, err = f.WriteString("passed on\n")
		}
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		withFd := func(cmd *exec.Cmd) { cmd.ExtraFiles = []*os.File{f} }
		bundle, _ := e.ociBundle(func(s *specs.Spec) { s.Process.Args = []string{"cat", "/proc/self/fd/3"} })
		if r := e.ociWith(withFd, "run", "--preserve-fds", "1", "--bundle", bundle, "r"); r.code != 0 || r.stdout != "passed on\n" {
			t.Errorf("run --preserve-fds 1: %s", r)
		}
		bundle, _ = e.ociBundle(nil)
		e.mustOCI("run", "-d", "--bundle", bundle, "x")
		defer e.mustOCI("delete", "--force", "x")
		if r := e.ociWith(withFd, "exec", "--preserve-fds=1", "x", "cat", "/proc/self/fd/3"); r.code != 0 || r.stdout != "passed on\n" {
			t.Errorf("exec --preserve-fds=1: %s", r)
		}
	})
	t.Run("--pidfd-socket", func(t *testing.T) {
		e := newOCIEnv(t)
		bundle, _ := e.ociBundle(nil)
		sock, pidfd := consoleSocket(t)
		e.mustOCI("run", "-d", "--pidfd-socket", sock, "--bundle", bundle, "p")
		defer e.mustOCI("delete", "--force", "p")
		fd := <-pidfd
		if fd == nil {
			t.Fatal("no pidfd came over the socket")
		}
		defer fd.Close()
		info, _ := os.ReadFile(fmt.Sprintf("/proc/self/fdinfo/%d", fd.Fd()))
		if got, want := statusField(string(info), "Pid"), strconv.Itoa(e.state("p").Pid); got != want {
			t.Errorf("the pidfd is of pid %q, want the init's %s:\n%s", got, want, info)
		}
	})
	t.Run("exec --cgroup", func(t *testing.T) {
		e := newOCIEnv(t)
		bundle, cg := e.ociBundle(nil)
		e.mustOCI("run", "-d", "--bundle", bundle, "c")
		defer e.mustOCI("delete", "--force", "c")
		sub, arg, want := filepath.Join("/sys/fs/cgroup/pids", cg, "sub"), "pids:sub", ":pids:"+cg+"/sub\n"
		if cgroupV2() {
			sub, arg, want = filepath.Join("/sys/fs/cgroup", cg, "sub"), "sub", "0::/sub\n"
		}
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if r := e.oci("exec", "--cgroup", arg, "c", "cat", "/proc/self/cgroup"); r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("exec --cgroup %s: %s", arg, r)
		}
		if r := e.oci("exec", "--cgroup", "..", "c", "true"); r.code != 255 || !strings.Contains(r.stderr, "bad sub cgroup path") {
			t.Errorf("exec --cgroup ..: %s", r)
		}
	})
	for _, verb := range []string{"checkpoint", "restore"} {
		t.Run(verb+" is refused", func(t *testing.T) {
			e := newOCIEnv(t)
			if r := e.oci(verb, "--image-path", t.TempDir(), "x"); r.code != 1 || !strings.Contains(r.stderr, verb+" is not supported") {
				t.Errorf("%s: %s", verb, r)
			}
			if r := e.oci(verb, "--help"); r.code != 0 || !strings.Contains(r.stdout, "dockless-runc "+verb) {
				t.Errorf("%s --help: %s", verb, r)
			}
		})
	}
}

// TestOCI_SmallDifferencesFromRunc: what else runc's suite checks, each as
// runc does it.
func TestOCI_SmallDifferencesFromRunc(t *testing.T) {
	e := newOCIEnv(t)
	bundle, _ := e.ociBundle(nil)
	bundle2, _ := e.ociBundle(nil)
	missing, _ := e.ociBundle(func(s *specs.Spec) { s.Process.Args = []string{"/no/such/program"} })
	e.mustOCI("run", "-d", "--bundle", bundle, "s")
	t.Run("kill ID 0 checks that the container runs", func(t *testing.T) {
		if r := e.oci("kill", "s", "0"); r.code != 0 {
			t.Errorf("kill 0 of a running container: %s", r)
		}
	})
	t.Run("list --format json", func(t *testing.T) {
		var list []map[string]any
		if err := json.Unmarshal([]byte(e.oci("list", "--format", "json").stdout), &list); err != nil || len(list) != 1 ||
			list[0]["ociVersion"] != specs.Version || list[0]["rootfs"] != filepath.Join(bundle, "rootfs") || list[0]["owner"] != "root" {
			t.Errorf("list --format json: %v (%v)", list, err)
		}
	})
	t.Run("a relative --pid-file is relative to where the command runs", func(t *testing.T) {
		here := t.TempDir()
		r := e.ociWith(func(cmd *exec.Cmd) { cmd.Dir = here }, "exec", "-d", "--pid-file", "pid", "s", "sleep", "1000")
		if r.code != 0 || readTrimmed(filepath.Join(here, "pid")) == "" {
			t.Errorf("exec -d --pid-file pid: %s; %s holds %v", r, here, dirNames(here))
		}
		dir := t.TempDir()
		r = e.ociWith(func(cmd *exec.Cmd) { cmd.Dir = dir }, "create", "-b", bundle2, "--pid-file", "pid", "c")
		if r.code != 0 || readTrimmed(filepath.Join(dir, "pid")) == "" {
			t.Errorf("create -b BUNDLE --pid-file pid: %s; %s holds %v", r, dir, dirNames(dir))
		}
		e.oci("delete", "--force", "c")
	})
	t.Run("exec fails with 255", func(t *testing.T) {
		if r := e.oci("exec", "--pid-file", "/non-existent/directory", "s", "true"); r.code != 255 {
			t.Errorf("exec whose pid file cannot be written: %s", r)
		}
		if r := e.oci("exec", "nosuch", "true"); r.code != 255 || !strings.Contains(r.stderr, "exec failed: container does not exist") {
			t.Errorf("exec in a missing container: %s", r)
		}
	})
	t.Run("run fails as runc run", func(t *testing.T) {
		if r := e.oci("run", "--bundle", missing, "r"); r.code != 1 || !strings.Contains(r.stderr, "runc run failed: ") {
			t.Errorf("run of a missing program: %s", r)
		}
	})
	e.mustOCI("kill", "s", "KILL")
	e.waitStatus("s", specs.StateStopped)
	t.Run("kill ID 0 of a stopped container", func(t *testing.T) {
		if r := e.oci("kill", "s", "0"); r.code != 1 || !strings.Contains(r.stderr, "container not running") {
			t.Errorf("kill 0 after the container stopped: %s", r)
		}
	})
	e.mustOCI("delete", "s")
	t.Run("delete --force of a missing container", func(t *testing.T) {
		if r := e.oci("delete", "--force", "s"); r.code != 0 {
			t.Errorf("delete --force of a missing container: %s", r)
		}
		if r := e.oci("delete", "s"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("delete of a missing container: %s", r)
		}
	})
	t.Run("list on a --root that does not exist", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "none")
		if r := e.run("oci", "--root", missing, "list"); r.code != 1 || !strings.Contains(r.stderr, "no such file or directory") {
			t.Errorf("list --root MISSING: %s", r)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Errorf("list made its --root %s", missing)
		}
	})
	t.Run("help and version", func(t *testing.T) {
		if out := e.oci("--help").stdout; !strings.Contains(out, "dockless-runc - Open Container Initiative runtime") {
			t.Errorf("--help: %s", out)
		}
		out := strings.Split(e.oci("--version").stdout, "\n")
		if len(out) < 3 || !strings.HasPrefix(out[0], "runc version 1.") || !strings.HasPrefix(out[1], "commit: ") || out[2] != "spec: "+specs.Version {
			t.Errorf("--version (go-runc reads runc version, commit and spec): %q", out)
		}
	})
}

func dirNames(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	return names
}

// TestOCI_TerminalKeepsNewlines: what is written on a terminal that
// dockless-runc relays comes out as written, even what the init writes as
// soon as it runs the process (the error of an execve that fails): the
// pty's ONLCR is cleared as soon as the init sends the master, before the
// process runs, not once dockless-runc attaches.
func TestOCI_TerminalKeepsNewlines(t *testing.T) {
	e := newOCIEnv(t)
	bundle, _ := e.ociBundle(func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"/run.sh"}
	})
	if err := os.WriteFile(filepath.Join(bundle, "rootfs", "run.sh"), []byte("#!/no/such/interpreter\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// On a terminal of its own too, as in runc's suite (script(1)):
	// dockless-runc then sets that one raw before it copies.
	master, slave, err := openPty()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	for i := range 10 {
		onPty := func(cmd *exec.Cmd) { cmd.Stdin = slave }
		if r := e.ociWith(onPty, "run", "--bundle", bundle, fmt.Sprint("t", i)); r.code != 255 || r.stdout != "exec /run.sh: no such file or directory\n" {
			t.Errorf("run on a terminal: %q", r)
		}
	}
}

// openPty opens a new pseudo-terminal: its master and its slave.
func openPty() (*os.File, *os.File, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, err
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, slave, nil
}
