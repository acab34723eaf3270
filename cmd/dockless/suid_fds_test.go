package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The descriptors a container gets. libcontainer's init fchowns its stdio
// to the container user, so the caller's own files must never be its
// stdio (root would chown them); and no descriptor of dockless itself (its
// binary above all: CVE-2019-5736) may cross into a container.

// outputSize is what the stdio tests' containers write to stdout: more than
// a pipe holds, so that a relay has to keep copying while the job runs.
const outputSize = 300 * 1024

// stdioScript counts its stdin, writes outputSize bytes to stdout and a
// line to stderr, and exits 7; ttyScript does the same but reads nothing
// (its stdin is the pty, where no one types).
var (
	stdioScript = "wc -c; " + ttyScript
	ttyScript   = fmt.Sprintf("head -c %d /dev/zero; echo end >&2; exit 7", outputSize)
)

func TestSuid_StdioIsNeverChownedToTheUser(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "echo ready; exec sleep 1000")
	e.mustRun("pull", "-q", busybox)
	name := startJob(t, e, j)
	dir := openTempDir(t)
	stdinBody := "root's secret\n"
	for _, fe := range []struct {
		name    string
		environ []string
		args    []string
		stdin   bool // the process reads dockless's stdin
		tty     bool // its stdout and stderr are one pty
	}{
		{"run", nil, []string{"run", "--rm", "-q", busybox, "sh", "-c", stdioScript}, false, false},
		{"run -i", nil, []string{"run", "--rm", "-q", "-i", busybox, "sh", "-c", stdioScript}, true, false},
		{"run -t", nil, []string{"run", "--rm", "-q", "-t", busybox, "sh", "-c", ttyScript}, false, true},
		{"lsf run", j.env, []string{"lsf", "run", stdioScript}, true, false},
		{"exec -i", nil, []string{"exec", "-i", name, "sh", "-c", stdioScript}, true, false},
		{"exec -t", nil, []string{"exec", "-t", name, "sh", "-c", ttyScript}, false, true},
		{"lsf exec", nil, []string{"lsf", "exec", testJobID, "sh", "-c", stdioScript}, true, false},
	} {
		for _, in := range []struct {
			name  string
			open  func(t *testing.T, p string) string
			count string // what wc -c reads from it
		}{
			{"stdin a root-owned file", func(t *testing.T, p string) string { return rootFile(t, p, stdinBody) }, strconv.Itoa(len(stdinBody))},
			{"stdin a root-owned directory", rootDir, "0"},
		} {
			t.Run(fe.name+"/"+in.name, func(t *testing.T) {
				base := filepath.Join(dir, strings.NewReplacer(" ", "-", "/", "-").Replace(t.Name()))
				paths := []string{in.open(t, base+".in"), rootFile(t, base+".out", ""), rootFile(t, base+".err", "")}
				before := make([]fileOwner, len(paths))
				for i, p := range paths {
					before[i] = ownerOf(t, p)
				}
				code := runWithStdio(t, alice, fe.environ, paths, fe.args...)
				for i, p := range paths {
					if got := ownerOf(t, p); got != before[i] {
						t.Errorf("%s: owner and mode changed from %+v to %+v", p, before[i], got)
					}
				}
				out, _ := os.ReadFile(paths[1])
				errOut, _ := os.ReadFile(paths[2])
				if fe.tty {
					// The pty's line ends are CRLF, as docker's.
					if code != 7 || len(out) < outputSize || !strings.HasSuffix(string(out), "end\r\n") {
						t.Errorf("exit %d (want 7), %d bytes through the pty ending %q", code, len(out), out[max(0, len(out)-16):])
					}
					return
				}
				count := "0"
				if fe.stdin {
					count = in.count
				}
				if want := count + "\n" + string(make([]byte, outputSize)); string(out) != want {
					t.Errorf("stdout: %d bytes beginning %q, want %d beginning %q", len(out), head(out), len(want), head([]byte(want)))
				}
				if code != 7 || !strings.HasSuffix(string(errOut), "end\n") {
					t.Errorf("exit %d (want 7), stderr %q", code, errOut)
				}
			})
		}
	}
}

func TestSuid_NoDescriptorButStdioCrossesIntoAContainer(t *testing.T) {
	e := newEnv(t)
	j := newLSFJob(t, e, alice, "echo ready; exec sleep 1000")
	e.mustRun("pull", "-q", busybox)
	name := startJob(t, e, j)
	dir := openTempDir(t)
	// ls lists the shell's descriptors (it is not the last command, so the
	// shell forks it rather than exec it).
	list := `ls -l /proc/$$/fd; true`
	for _, tc := range []struct {
		name    string
		environ []string
		args    []string
	}{
		{"run", nil, []string{"run", "--rm", "-q", busybox, "sh", "-c", list}},
		{"run -i", nil, []string{"run", "--rm", "-q", "-i", busybox, "sh", "-c", list}},
		{"lsf run", j.env, []string{"lsf", "run", list}},
		{"exec -i", nil, []string{"exec", "-i", name, "sh", "-c", list}},
		{"lsf exec", nil, []string{"lsf", "exec", testJobID, "sh", "-c", list}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A descriptor the caller leaves open (not close-on-exec) for
			// dockless stays with dockless.
			extra, err := os.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer extra.Close()
			cmd := exec.Command(suidBinary, tc.args...)
			cmd.Dir, cmd.Env, cmd.SysProcAttr = alice.Home, tc.environ, asUserAttr(alice)
			cmd.ExtraFiles = []*os.File{extra}
			r := runCmd(t, cmd)
			if r.code != 0 {
				t.Fatalf("%s", r)
			}
			assertOnlyStdio(t, parseFdList(r.stdout))
		})
	}
}

func TestOCI_NoDescriptorButStdioCrossesIntoAContainer(t *testing.T) {
	e := newOCIEnv(t)
	bundle, _ := e.ociBundle(nil)
	e.mustOCI("create", "--bundle", bundle, "c1")
	defer e.mustOCI("delete", "--force", "c1")
	pid := e.state("c1").Pid
	// The created container's init waits for start inside the container: a
	// process of the container can reach its descriptors through /proc.
	// Beside its stdio, it holds what runc's own create.bats allows the
	// init of runc create: libcontainer's sockets and pipes, the exec fifo,
	// procfs handles, the Go runtime's epoll and eventfd.
	for fd, target := range hostFdList(t, pid) {
		if pointsAtDockless(target) {
			t.Errorf("the created container's init holds the dockless binary: %d -> %s", fd, target)
		} else if fd > 2 && !initInternal.MatchString(target) {
			t.Errorf("the created container's init has descriptor %d -> %s", fd, target)
		}
	}
	e.mustOCI("start", "c1")
	if cmd := waitCmdline(pid, "sleep\x001000\x00"); cmd != "sleep\x001000\x00" {
		t.Fatalf("pid %d runs %q", pid, cmd)
	}
	assertOnlyStdio(t, hostFdList(t, pid))
	r := e.oci("exec", "c1", "sh", "-c", `ls -l /proc/$$/fd; true`)
	if r.code != 0 {
		t.Fatalf("exec: %s", r)
	}
	assertOnlyStdio(t, parseFdList(r.stdout))
}

// startJob starts u's LSF job j (a job that prints "ready" and sleeps),
// waits until it runs and returns its container's name; the job is stopped
// at cleanup.
func startJob(t *testing.T, e *env, j *lsfJobFixture) string {
	t.Helper()
	cmd := exec.Command(suidBinary, "lsf", "run", j.jobFile)
	cmd.Dir, cmd.Env, cmd.SysProcAttr = alice.Home, j.env, asUserAttr(alice)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if line != "ready\n" {
			t.Fatalf("the job did not start: %q", line)
		}
	case <-time.After(time.Minute):
		t.Fatal("the job did not start within a minute")
	}
	name := strings.TrimSpace(e.runAs(alice, alice.Home, nil, "ps", "--format", "{{.Names}}").stdout)
	if !strings.HasPrefix(name, "lsf_"+testJobID+"_") {
		t.Fatalf("the job's container: %q", name)
	}
	t.Cleanup(func() {
		if r := e.runAs(alice, alice.Home, nil, "stop", "-t", "1", name); r.code != 0 {
			t.Errorf("stopping the job: %s", r)
		}
		_ = cmd.Wait()
	})
	return name
}

// runWithStdio runs the setuid dockless as u with the files at paths as its
// stdin, stdout and stderr, opened by root (stdout and stderr for appending,
// as a shell's >>), and returns its exit status.
func runWithStdio(t *testing.T, u testUser, environ []string, paths []string, args ...string) int {
	t.Helper()
	files := make([]*os.File, len(paths))
	for i, p := range paths {
		flag := os.O_RDONLY
		if i > 0 {
			flag = os.O_WRONLY | os.O_APPEND
		}
		f, err := os.OpenFile(p, flag, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, suidBinary, args...)
	cmd.Dir, cmd.Env, cmd.SysProcAttr = u.Home, environ, asUserAttr(u)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = files[0], files[1], files[2]
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

// rootFile creates p as a root-owned file (0644) holding body.
func rootFile(t *testing.T, p, body string) string {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rootDir creates p as a root-owned directory (0755).
func rootDir(t *testing.T, p string) string {
	t.Helper()
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// fileOwner is what fixStdioPermissions would change.
type fileOwner struct {
	UID, GID uint32
	Mode     os.FileMode
}

func ownerOf(t *testing.T, p string) fileOwner {
	t.Helper()
	st, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	s := st.Sys().(*syscall.Stat_t)
	return fileOwner{UID: s.Uid, GID: s.Gid, Mode: st.Mode()}
}

func head(b []byte) []byte {
	return b[:min(len(b), 16)]
}

// initInternal are the targets runc's create.bats allows a created
// container's init to hold, less runc's binary: the Go runtime (1.25 on)
// keeps the cgroup v1 CPU quota files open.
var initInternal = regexp.MustCompile(`^(anon_inode:\[.+\]|/(proc)?|socket:\[[0-9]+\]|pipe:\[[0-9]+\]|.*/exec\.fifo|(/proc)?/1/task/1/fd|.*/cpu\.cfs_(quota|period)_us)$`)

// parseFdList reads the descriptors in the output of ls -l /proc/PID/fd
// ("... FD -> TARGET").
func parseFdList(out string) map[int]string {
	fds := map[int]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		before, target, ok := strings.Cut(line, " -> ")
		f := strings.Fields(before)
		if !ok || len(f) == 0 {
			continue
		}
		if n, err := strconv.Atoi(f[len(f)-1]); err == nil {
			fds[n] = target
		}
	}
	return fds
}

// hostFdList reads pid's descriptors from the host's /proc.
func hostFdList(t *testing.T, pid int) map[int]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fds := map[int]string{}
	for _, en := range entries {
		n, _ := strconv.Atoi(en.Name())
		fds[n], _ = os.Readlink(filepath.Join(dir, en.Name()))
	}
	return fds
}

// assertOnlyStdio fails unless fds are exactly 0, 1 and 2.
func assertOnlyStdio(t *testing.T, fds map[int]string) {
	t.Helper()
	var nums []int
	for fd, target := range fds {
		nums = append(nums, fd)
		if pointsAtDockless(target) {
			t.Errorf("descriptor %d is the dockless binary: %s", fd, target)
		}
	}
	slices.Sort(nums)
	if !slices.Equal(nums, []int{0, 1, 2}) {
		t.Errorf("the container's descriptors are %v, want only stdio", fds)
	}
}

// pointsAtDockless: libcontainer's sealed copy of the binary shows as
// /dockless (an overlay of its directory) or as a runc_cloned memfd.
func pointsAtDockless(target string) bool {
	return filepath.Base(target) == "dockless" || strings.Contains(target, "runc_cloned")
}

// TestStdio_RelayKeepsTheStreamsSemantics: the relay between dockless's
// stdio and the container's pipes behaves as the caller's files given
// directly did.
func TestStdio_RelayKeepsTheStreamsSemantics(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	t.Run("EOF on stdin reaches the container", func(t *testing.T) {
		r := e.runWith(func(cmd *exec.Cmd) { cmd.Stdin = strings.NewReader("hello\n") }, "run", "--rm", "-i", busybox, "cat")
		if r.code != 0 || r.stdout != "hello\n" {
			t.Fatalf("%s", r)
		}
	})
	t.Run("the container exits while stdin is still open", func(t *testing.T) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		defer pw.Close() // open until dockless has exited
		r := e.runWith(func(cmd *exec.Cmd) { cmd.Stdin = pr }, "run", "--rm", "-i", busybox, "sh", "-c", fmt.Sprintf("head -c %d /dev/zero; exit 3", outputSize))
		if r.code != 3 || len(r.stdout) != outputSize {
			t.Fatalf("exit %d (want 3), %d bytes of stdout (want %d), stderr %q", r.code, len(r.stdout), outputSize, r.stderr)
		}
	})
	t.Run("stdout and stderr that are one file keep their order", func(t *testing.T) {
		var out, want strings.Builder
		for i := range 2000 {
			fmt.Fprintf(&want, "out%d\nerr%d\n", i, i)
		}
		r := e.runWith(func(cmd *exec.Cmd) { cmd.Stdout, cmd.Stderr = &out, &out },
			"run", "--rm", "-q", busybox, "sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done")
		if r.code != 0 || out.String() != want.String() {
			t.Fatalf("exit %d, output (%d bytes) is not the interleaving the container wrote (%d bytes)", r.code, out.Len(), want.Len())
		}
	})
	t.Run("a closed stdout ends the container as it would have", func(t *testing.T) {
		// yes is not the container's init, which the kernel keeps from
		// dying of a signal it does not handle.
		cmd := exec.Command(binary, "--root", e.root, "--state", e.state, "run", "--rm", "-q", busybox, "sh", "-c", "yes; exit $?")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "y\n" {
			t.Errorf("first line %q: %v", line, err)
		}
		out.Close()
		_ = cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 128+int(syscall.SIGPIPE) {
			t.Fatalf("%v, want exit %d (the container's SIGPIPE)", cmd.ProcessState, 128+int(syscall.SIGPIPE))
		}
	})
	t.Run("exec does not wait for its process's background children", func(t *testing.T) {
		e.startContainer(t, "bg", busybox, "sleep", "1000")
		defer e.mustRun("rm", "-f", "bg")
		if r := e.run("exec", "bg", "sh", "-c", "sleep 1000 & echo started"); r.code != 0 || r.stdout != "started\n" {
			t.Fatalf("%s", r)
		}
	})
}

// The descriptors a caller leaves open for the setuid dockless are marked
// close-on-exec before anything runs, so no program dockless starts before
// the container (unpigz, hooks, credential helpers) inherits them: the
// flags are read while dockless waits for the store lock, before any pull.
func TestSuid_CallersDescriptorsAreCloseOnExec(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	extra, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	unlock := lockStore(t, e)
	cmd := exec.Command(suidBinary, "run", "--rm", busybox, "true")
	cmd.Dir, cmd.SysProcAttr = alice.Home, asUserAttr(alice)
	cmd.ExtraFiles = []*os.File{extra} // fd 3, without O_CLOEXEC
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(e.root, "lock")
	for deadline := time.Now().Add(time.Minute); !holdsOpen(cmd.Process.Pid, lock); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("dockless never opened the store lock")
		}
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/3", cmd.Process.Pid))
	unlock()
	if werr := cmd.Wait(); werr != nil {
		t.Fatalf("dockless run: %v", werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%o", &flags)
		}
	}
	if flags&syscall.O_CLOEXEC == 0 {
		t.Fatalf("the caller's descriptor 3 is inheritable in the setuid dockless (flags %o)", flags)
	}
}
