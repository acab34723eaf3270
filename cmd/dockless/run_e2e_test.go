package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
)

func TestRun_ExitCodes(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"success is 0", []string{"true"}, 0, ""},
		{"the container's status", []string{"sh", "-c", "exit 3"}, 3, ""},
		{"a child killed by a signal is 128+N", []string{"sh", "-c", "sleep 10 & kill -9 $!; wait $!"}, 137, ""},
		{"command not found is 127", []string{"no-such-command"}, 127, "executable file not found"},
		{"not executable is 126", []string{"/etc/passwd"}, 126, "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run(append([]string{"run", "--rm", busybox}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.err) {
				t.Fatalf("want exit %d with %q, got %s", tc.code, tc.err, r)
			}
		})
	}
}

func TestRun_InitKilledBySignalExits128PlusN(t *testing.T) {
	e := newEnv(t)
	cid := e.cidfile("kill")
	cmd := exec.Command(binary, "--root", e.root, "--state", e.state, "run", "--rm", "--cidfile", cid, busybox, "sleep", "100")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := waitForInit(t, cid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 137 {
		t.Fatalf("want exit 137 after SIGKILL of the init, got %d (%v): %s", code, err, stderr.String())
	}
}

// waitForInit reads the container ID from cid and returns the host pid of
// the container's init, from its cgroup, once it runs the user's program
// (not libcontainer's init stages, whose names are "runc:[…]", the re-exec'd
// binary's, or a file descriptor number before nsexec renames them).
func waitForInit(t *testing.T, cid string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(cid); err == nil && len(b) == 64 {
			if cg := findCgroup("dockless-" + string(b)[:12]); cg != "" {
				procs, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
				var pid int
				if _, err := fmt.Sscan(string(procs), &pid); err == nil && pid > 0 {
					comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
					if c := strings.TrimSpace(string(comm)); c == "sleep" || c == "sh" {
						return pid
					}
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("container did not start")
	return 0
}

func TestRun_SignalsReachTheContainer(t *testing.T) {
	e := newEnv(t)
	cid := e.cidfile("sig")
	cmd := exec.Command(binary, "--root", e.root, "--state", e.state, "run", "--rm", "--cidfile", cid, busybox,
		"sh", "-c", "trap 'exit 42' TERM; echo ready; while :; do sleep 0.1; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForInit(t, cid)
	time.Sleep(300 * time.Millisecond) // let the trap be installed
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 42 {
		t.Fatalf("want the trap's exit 42, got %d", code)
	}
}

func TestRun_User(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		// The primary group is a supplementary group too, as docker's.
		{"root by default", nil, "uid=0(root) gid=0(root) groups=0(root)"},
		{"numeric uid gets gid 0 when unknown", []string{"-u", "4242"}, "uid=4242 gid=0(root) groups=0(root)"},
		{"name with its groups from the image", []string{"-u", "alice"}, "uid=1000(alice) gid=100(users) groups=100(users),2000(research)"},
		{"uid:gid", []string{"-u", "1000:2000"}, "uid=1000(alice) gid=2000(research) groups=2000(research)"},
		{"group-add by number and name", []string{"-u", "4242:4242", "--group-add", "5000", "--group-add", "users"}, "uid=4242 gid=4242 groups=100(users),4242,5000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"run", "--rm"}, tc.args...), busybox, "id")
			if got := strings.TrimSpace(e.mustRun(args...)); got != tc.want {
				t.Fatalf("id: want %q, got %q", tc.want, got)
			}
		})
	}
}

func TestRun_Environment(t *testing.T) {
	e := newEnv(t)
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, []byte("# comment\nFROM_FILE=file value\nOVERRIDDEN=file\nPASSED\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.runWith(func(c *exec.Cmd) { c.Env = append(os.Environ(), "PASSED=from host") },
		"run", "--rm", "--env-file", envFile, "-e", "OVERRIDDEN=flag", "-e", "A=1,2", "-h", "box", busybox, "env")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"FROM_FILE=file value", "OVERRIDDEN=flag", "PASSED=from host", "A=1,2",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "HOSTNAME=box"} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("env lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestRun_Workdir(t *testing.T) {
	e := newEnv(t)
	if got := strings.TrimSpace(e.mustRun("run", "--rm", busybox, "pwd")); got != "/" {
		t.Errorf("default workdir: %q", got)
	}
	if got := strings.TrimSpace(e.mustRun("run", "--rm", "-w", "/new/dir", busybox, "pwd")); got != "/new/dir" {
		t.Errorf("-w creates and enters the directory: %q", got)
	}
}

func TestRun_ImageConfigIsHonoured(t *testing.T) {
	e := newEnv(t)
	img, err := testimage.Busybox(testimage.Options{
		Entrypoint: []string{"echo", "entry"}, Cmd: []string{"default-cmd"},
		Env: []string{"IMAGE_VAR=image"}, WorkingDir: "/home/alice", User: "alice",
	})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.Push("test/configured:1", img)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"entrypoint plus cmd", nil, "entry default-cmd"},
		{"command replaces cmd", []string{"given"}, "entry given"},
		{"--entrypoint drops the image cmd", []string{"--entrypoint", "sh", "-c", "echo $IMAGE_VAR $(pwd) $(id -un)"}, "image /home/alice alice"},
		{"-u and -w override USER and WORKDIR", []string{"--entrypoint", "sh", "-u", "0", "-w", "/tmp", "-c", "echo $(pwd) $(id -u) $HOME"}, "/tmp 0 /root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var flags, cmd []string
			// flags before the image, the rest after it
			for i := 0; i < len(tc.args); i++ {
				a := tc.args[i]
				if a == "--entrypoint" || a == "-u" || a == "-w" {
					flags = append(flags, a, tc.args[i+1])
					i++
					continue
				}
				cmd = append(cmd, a)
			}
			args := append(append(append([]string{"run", "--rm"}, flags...), ref), cmd...)
			if got := strings.TrimSpace(e.mustRun(args...)); got != tc.want {
				t.Fatalf("want %q, got %q", tc.want, got)
			}
		})
	}
}

func TestRun_Volumes(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "in"), []byte("from host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.mustRun("run", "--rm", "-v", dir+":/data", busybox, "sh", "-c", "cat /data/in; echo written > /data/out")
	if out != "from host\n" {
		t.Errorf("reading a volume: %q", out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out")); string(b) != "written\n" {
		t.Errorf("writing a volume: %q", b)
	}
	for _, flags := range [][]string{{"-v", dir + ":/data:ro"}, {"--mount", "type=bind,source=" + dir + ",target=/data,readonly"}} {
		r := e.run(append(append([]string{"run", "--rm"}, flags...), busybox, "touch", "/data/nope")...)
		if r.code == 0 || !strings.Contains(r.stderr+r.stdout, "Read-only file system") {
			t.Errorf("%v: write to a read-only volume must fail: %s", flags, r)
		}
	}
}

func TestRun_ReadOnlyRootfs(t *testing.T) {
	e := newEnv(t)
	r := e.run("run", "--rm", "--read-only", busybox, "touch", "/x")
	if r.code == 0 || !strings.Contains(r.stderr+r.stdout, "Read-only file system") {
		t.Fatalf("--read-only: %s", r)
	}
	if out := e.mustRun("run", "--rm", "--read-only", busybox, "sh", "-c", "touch /dev/shm/x && echo shm-writable"); out != "shm-writable\n" {
		t.Errorf("/dev/shm stays writable: %q", out)
	}
}

func TestRun_WhiteoutsApplied(t *testing.T) {
	e := newEnv(t)
	r := e.run("run", "--rm", busybox, "cat", "/etc/motd")
	if r.code != 1 || !strings.Contains(r.stderr, "No such file") {
		t.Fatalf("/etc/motd is deleted by a whiteout in the top layer: %s", r)
	}
}

func TestRun_RootfsIsCopyOnWrite(t *testing.T) {
	e := newEnv(t)
	e.mustRun("run", "--rm", busybox, "sh", "-c", "echo changed > /etc/passwd; rm /bin/ls")
	if out := e.mustRun("run", "--rm", busybox, "sh", "-c", "head -1 /etc/passwd; ls / >/dev/null && echo ls-ok"); out != "root:x:0:0:root:/root:/bin/sh\nls-ok\n" {
		t.Fatalf("a container's changes must not reach the image or the next container: %q", out)
	}
}

// TestRun_RootfsIsVolatile: the container's writable layer, which lives
// only as long as the container, is mounted volatile (overlayfs passes no
// sync of it down: "volatile", or "fsync=volatile" on newer kernels), and
// what the container writes and syncs is there until it exits.
func TestRun_RootfsIsVolatile(t *testing.T) {
	e := newEnv(t)
	out := e.mustRun("run", "--rm", busybox, "sh", "-c", "echo kept > /written; sync; cat /written; grep ' / / ' /proc/self/mountinfo")
	first, root, _ := strings.Cut(out, "\n")
	if first != "kept" || !strings.Contains(root, " overlay ") || !strings.Contains(root, "volatile") {
		t.Fatalf("the rootfs is an overlay mounted volatile: %q", out)
	}
}

func TestRun_SecurityDefaults(t *testing.T) {
	e := newEnv(t)
	status := e.mustRun("run", "--rm", busybox, "cat", "/proc/self/status")
	for _, want := range []string{"CapBnd:\t00000000a80425fb", "CapEff:\t00000000a80425fb", "Seccomp:\t2", "NoNewPrivs:\t0"} {
		if !strings.Contains(status, want) {
			t.Errorf("default container: want %q in /proc/self/status", want)
		}
	}
	status = e.mustRun("run", "--rm", "-u", "1000", "--cap-drop", "all", "--cap-add", "chown", "--cap-add", "CAP_KILL",
		"--security-opt", "no-new-privileges", busybox, "cat", "/proc/self/status")
	for _, want := range []string{"CapBnd:\t0000000000000021", "CapEff:\t0000000000000000", "NoNewPrivs:\t1"} {
		if !strings.Contains(status, want) {
			t.Errorf("seed capabilities for a user: want %q in /proc/self/status:\n%s", want, status)
		}
	}
	if out := e.mustRun("run", "--rm", "--security-opt", "seccomp=unconfined", busybox, "grep", "Seccomp:", "/proc/self/status"); !strings.Contains(out, "0") {
		t.Errorf("seccomp=unconfined: %q", out)
	}
	// docker's profile refuses unshare without CAP_SYS_ADMIN (also where the
	// kernel's lack of x32 leaves that architecture out of the filter);
	// without a filter the kernel lets root make a user namespace.
	if r := e.run("run", "--rm", busybox, "unshare", "-U", "true"); r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("unshare under docker's profile must be refused with EPERM: %s", r)
	}
	e.mustRun("run", "--rm", "--security-opt", "seccomp=unconfined", busybox, "unshare", "-U", "true")
	r := e.run("run", "--rm", busybox, "cat", "/proc/kcore")
	if r.code == 0 {
		t.Errorf("/proc/kcore must be masked: %s", r)
	}
}

// TestRun_NoCollectionDuringAStart: a start of a cached image runs no
// garbage collection (holdCollection): the Go runtime's trace of its
// collections stays empty, where its trace of the packages'
// initialisation shows that the setting reached it.
func TestRun_NoCollectionDuringAStart(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	r := e.runWith(func(cmd *exec.Cmd) { cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1,inittrace=1") }, "run", "--rm", busybox, "true")
	if r.code != 0 || !strings.Contains(r.stderr, "init runtime @") {
		t.Fatalf("a start with the runtime's traces: %s", r)
	}
	if i := strings.Index(r.stderr, "gc 1 @"); i >= 0 {
		t.Errorf("a start collected: %s", r.stderr[i:])
	}
}

// TestRun_OneProcessorOnceTheContainerStarts: a job's dockless runs on
// every processor while it sets the container up (a pull decompresses
// layers in parallel), and on one once the container runs: the Go
// scheduler's trace says so.
func TestRun_OneProcessorOnceTheContainerStarts(t *testing.T) {
	if goruntime.NumCPU() < 2 {
		t.Skip("one processor from the start on this node")
	}
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	r := e.runWith(func(cmd *exec.Cmd) { cmd.Env = append(os.Environ(), "GODEBUG=schedtrace=100") }, "run", "--rm", busybox, "sleep", "1")
	var procs []int
	for _, m := range regexp.MustCompile(`SCHED \d+ms: gomaxprocs=(\d+)`).FindAllStringSubmatch(r.stderr, -1) {
		n, _ := strconv.Atoi(m[1])
		procs = append(procs, n)
	}
	if r.code != 0 || len(procs) < 3 {
		t.Fatalf("a start with the scheduler's trace: %s", r)
	}
	if procs[0] != goruntime.NumCPU() || procs[len(procs)-1] != 1 {
		t.Errorf("processors through the start: %v, want %d at first and 1 at the end", procs, goruntime.NumCPU())
	}
}

// TestRun_SeccompCompiledOnceLoadedByTheLoader: a job container's filter is
// compiled once per profile (an entry in the state's seccomp directory)
// and loaded by dockless-init's loader, not by libcontainer's init (whose
// config has no seccomp, the filter in a label): in the container's own
// process and in one dockless exec starts in it, for root (without
// no_new_privileges, where the loader needs CAP_SYS_ADMIN and leaves
// docker's capabilities) and for a user (with it). A damaged entry is
// compiled again.
func TestRun_SeccompCompiledOnceLoadedByTheLoader(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	cache := filepath.Join(e.state, "seccomp")
	entries := func() []string {
		des, _ := os.ReadDir(cache)
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		return names
	}
	status := e.mustRun("run", "--rm", busybox, "grep", "-E", "^(Cap(Bnd|Eff|Prm|Inh|Amb)|NoNewPrivs|Seccomp|Seccomp_filters|Speculation_Store_Bypass):", "/proc/self/status")
	want := "CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n" +
		"NoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\nSpeculation_Store_Bypass:\tvulnerable\n"
	if status != want {
		t.Errorf("root's container through the loader:\n%s\nwant (docker's, with SECCOMP_FILTER_FLAG_SPEC_ALLOW):\n%s", status, want)
	}
	first := entries()
	if len(first) != 1 {
		t.Fatalf("cache entries after the first start: %v, want 1", first)
	}
	entry := filepath.Join(cache, first[0])
	before, _ := os.Stat(entry)
	e.mustRun("run", "--rm", busybox, "true")
	if after, _ := os.Stat(entry); len(entries()) != 1 || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("the same profile was compiled again: %v", entries())
	}

	profile := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cid := e.cidfile("seccomp")
	done := make(chan result, 1)
	go func() {
		done <- e.run("run", "--rm", "--cidfile", cid, "--security-opt", "seccomp="+profile, busybox, "sh", "-c", "mkdir /tmp/a; while [ ! -e /tmp/stop ]; do sleep 0.05; done")
	}()
	waitForProcess(t, cid, "sleep")
	id, _ := os.ReadFile(cid)
	state, err := os.ReadFile(filepath.Join(e.state, "runc", string(id), "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	filter, err := os.ReadFile(filepath.Join(e.state, "runc", string(id), "dockless-seccomp.json"))
	if strings.Contains(string(state), `"seccomp":`) || strings.Contains(string(state), "dockless.seccomp") || err != nil || !strings.Contains(string(filter), `"filter":"`) {
		t.Errorf("libcontainer's config keeps a seccomp of its own or a label of dockless's, or the loader's filter is not beside the state (%v)", err)
	}
	if r := e.run("exec", string(id), "sh", "-c", "mkdir /tmp/b; touch /tmp/stop"); !strings.Contains(r.stderr, "can't create directory '/tmp/b': Operation not permitted") {
		t.Errorf("mkdir in dockless exec under the profile: %s", r)
	}
	if r := <-done; r.code != 0 || !strings.Contains(r.stderr, "can't create directory '/tmp/a': Operation not permitted") {
		t.Errorf("mkdir in the container under the profile: %s", r)
	}
	if n := len(entries()); n != 2 {
		t.Errorf("%d cache entries after a second profile, want 2", n)
	}

	if err := os.WriteFile(entry, []byte("4:00"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.run("run", "--rm", busybox, "unshare", "-U", "true"); r.code == 0 || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("docker's profile from a damaged entry, compiled again, must refuse unshare: %s", r)
	}
	if b, _ := os.ReadFile(entry); !bytes.HasPrefix(b, []byte("4:")) || len(b) < 100 {
		t.Errorf("the damaged entry was not replaced: %.20q", b)
	}

	e.writePolicy("")
	r := e.runAs(alice, alice.Home, nil, "run", "--rm", busybox, "sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; unshare -U true")
	if r.code == 0 || r.stdout != "NoNewPrivs:\t1\nSeccomp:\t2\n" || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("a user's container through the loader: %s", r)
	}
}

func TestRun_Resources(t *testing.T) {
	e := newEnv(t)
	// data=32m: smaller than what the Go init has mapped writable; dockless
	// sets it once the init is set up (runtime/rlimits.go).
	out := e.mustRun("run", "--rm", "-m", "64m", "--memory-swap", "-1", "--cpu-shares", "2",
		"--ulimit", "nofile=1024:2048", "--ulimit", "data=33554432", "--shm-size", "16m", busybox, "sh", "-c",
		"cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares; ulimit -n; ulimit -Hn; ulimit -d; df -k /dev/shm | tail -1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("unexpected output: %q", out)
	}
	for i, want := range []string{"67108864", "2", "1024", "2048", "32768"} {
		if lines[i] != want {
			t.Errorf("line %d: want %q, got %q", i, want, lines[i])
		}
	}
	if !strings.Contains(lines[5], "16384") {
		t.Errorf("/dev/shm size 16m: %q", lines[5])
	}
}

func TestRun_NamesAndNetwork(t *testing.T) {
	e := newEnv(t)
	host, _ := os.Hostname()
	if out := strings.TrimSpace(e.mustRun("run", "--rm", busybox, "hostname")); out != host {
		t.Errorf("host network: hostname %q, want the node's %q", out, host)
	}
	out := e.mustRun("run", "--rm", "--network", "none", "-h", "node-7", "--add-host", "db:10.1.2.3", busybox,
		"sh", "-c", "hostname; cat /etc/hostname; grep db /etc/hosts; cat /proc/net/dev | grep -c :")
	if out != "node-7\nnode-7\n10.1.2.3\tdb\n1\n" {
		t.Errorf("--network none -h --add-host: %q", out)
	}
}

func TestRun_TTY(t *testing.T) {
	e := newEnv(t)
	out := e.mustRun("run", "--rm", "-t", busybox, "sh", "-c", "tty; echo $TERM")
	if !strings.HasPrefix(out, "/dev/pts/0\r\nxterm") && !strings.HasPrefix(out, "/dev/pts/0\nxterm") {
		t.Fatalf("-t gives a pty: %q", out)
	}
}

func TestRun_NameConflictAndCIDFile(t *testing.T) {
	e := newEnv(t)
	cid := e.cidfile("conflict")
	cmd := exec.Command(binary, "--root", e.root, "--state", e.state, "run", "--rm", "--name", "job_1", "--cidfile", cid, busybox, "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := waitForInit(t, cid)
	r := e.run("run", "--rm", "--name", "job_1", busybox, "true")
	if r.code != 125 || !strings.Contains(r.stderr, "already in use") {
		t.Errorf("a second container with the same name: %s", r)
	}
	r = e.run("run", "--rm", "--cidfile", cid, busybox, "true")
	if r.code != 125 || !strings.Contains(r.stderr, "Container ID file found") {
		t.Errorf("an existing cidfile: %s", r)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	_ = cmd.Wait()
}
