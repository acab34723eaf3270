package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
	"golang.org/x/sys/unix"
)

// The caller owns the terminal dockless writes to and can stop or
// interrupt a setuid dockless at the moment they choose. These tests give
// dltest-alice a real terminal (a pseudo-terminal that is the controlling
// terminal of her shell's session, with job control, as in an ssh
// session) and play the attacks on it.

// userTerminal is a pseudo-terminal whose session leader is a shell of a
// test user, running a script with job control (set -m).
type userTerminal struct {
	t      *testing.T
	master *os.File
	shell  *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
}

// newUserTerminal starts script (sh -c script sh args...) as u on a new
// terminal and collects what the terminal shows.
func newUserTerminal(t *testing.T, u testUser, script string, args ...string) *userTerminal {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	mfd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	if err := os.Chown(name, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Wide enough for progress bars.
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", append([]string{"-c", "set -m\n" + script, "sh"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Dir = u.Home
	cmd.Env = []string{"HOME=" + u.Home, "USER=" + u.Name, "PATH=/usr/bin:/bin", "TERM=xterm"}
	cmd.SysProcAttr = asUserAttr(u)
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	tm := &userTerminal{t: t, master: master, shell: cmd}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			tm.mu.Lock()
			tm.out.Write(b[:n])
			tm.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		// Everything left in the terminal's session, the shell last.
		for _, pid := range sessionProcesses(cmd.Process.Pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		_ = cmd.Wait()
		master.Close()
		<-copied
	})
	return tm
}

// output is what the terminal showed so far.
func (tm *userTerminal) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// await returns the first match of re in the terminal's output, failing
// the test if none shows within a minute.
func (tm *userTerminal) await(re string) []string {
	tm.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if m := rx.FindStringSubmatch(tm.output()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	tm.t.Fatalf("the terminal never showed %q:\n%s", re, tm.output())
	return nil
}

// press types keys on the terminal (^C, ^\, ^Z reach its foreground job
// as SIGINT, SIGQUIT, SIGTSTP).
func (tm *userTerminal) press(keys string) {
	tm.t.Helper()
	if _, err := tm.master.WriteString(keys); err != nil {
		tm.t.Fatal(err)
	}
}

// setTOSTOP makes a background job's write to the terminal stop it with
// SIGTTOU (stty tostop).
func (tm *userTerminal) setTOSTOP() {
	tm.t.Helper()
	tio, err := unix.IoctlGetTermios(int(tm.master.Fd()), unix.TCGETS)
	if err == nil {
		tio.Lflag |= unix.TOSTOP
		err = unix.IoctlSetTermios(int(tm.master.Fd()), unix.TCSETS, tio)
	}
	if err != nil {
		tm.t.Fatal(err)
	}
}

// child waits for the shell's child process (its foreground job).
func (tm *userTerminal) child() int {
	tm.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, pid := range sessionProcesses(tm.shell.Process.Pid) {
			if st, ok := procStat(pid); ok && st.ppid == tm.shell.Process.Pid {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	tm.t.Fatalf("the shell started nothing:\n%s", tm.output())
	return 0
}

// procStatus is what /proc/PID/stat says of a process.
type procStatus struct {
	ppid, session int
	// stoppedBySignal: state T; ended: a zombie (the shell, become
	// sleep, does not reap its jobs).
	stoppedBySignal, ended bool
}

func procStat(pid int) (procStatus, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStatus{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 {
		return procStatus{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	sid, _ := strconv.Atoi(f[3])
	return procStatus{ppid: ppid, session: sid, stoppedBySignal: f[0] == "T", ended: f[0] == "Z"}, true
}

// sessionProcesses lists the processes of session sid, its leader last.
func sessionProcesses(sid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == sid {
			continue
		}
		if st, ok := procStat(pid); ok && st.session == sid {
			pids = append(pids, pid)
		}
	}
	return append(pids, sid)
}

// flocksHeldBy lists the flock locks process pid holds (from /proc/locks:
// the node's store lock and its per-blob staging locks are flocks).
func flocksHeldBy(pid int) []string {
	b, _ := os.ReadFile("/proc/locks")
	var held []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[1] == "FLOCK" && f[4] == strconv.Itoa(pid) {
			held = append(held, line)
		}
	}
	return held
}

// slowImage pushes a busybox image with a big layer under a fresh name and
// makes the registry serve blobs slowly (about 3 s for the big layer); it
// returns the reference, the repository and the big layer's digest.
func slowImage(t *testing.T, name string) (ref, repo, bigLayer string) {
	t.Helper()
	img, err := testimage.WithBigFile(4 << 20)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := layers[len(layers)-1].Digest()
	if err != nil {
		t.Fatal(err)
	}
	repo = fmt.Sprintf("test/%s-%d", name, time.Now().UnixNano())
	if ref, err = reg.Push(repo+":1", img); err != nil {
		t.Fatal(err)
	}
	reg.SetDelay(true)
	t.Cleanup(func() { reg.SetDelay(false) })
	return ref, repo, d.String()
}

// awaitDownload waits until the registry is serving blob of repo.
func awaitDownload(t *testing.T, repo, blob string) {
	t.Helper()
	for i := 0; reg.BlobGets(repo)[blob] == 0; i++ {
		if i == 3000 {
			t.Fatalf("the pull never started downloading %s", blob)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// background runs the setuid dockless as u (at most two
// minutes) and returns its result when it ends.
func (e *env) background(u testUser, args ...string) <-chan result {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, suidBinary, args...)
	cmd.Dir = u.Home
	cmd.Env = []string{"HOME=" + u.Home, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = asUserAttr(u)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan result, 1)
	go func() {
		defer cancel()
		r, err := resultOf(&out, &errb, cmd.Run())
		if err != nil {
			r.code, r.stderr = -1, err.Error()
		}
		if ctx.Err() != nil {
			r.stderr += "\n(killed after two minutes)"
		}
		done <- r
	}()
	return done
}

// whileRunning waits for done, failing the test as soon as process pid is
// seen stopped while it holds a lock of the store.
func whileRunning(t *testing.T, pid int, done <-chan result, what string) result {
	t.Helper()
	for {
		select {
		case r := <-done:
			return r
		case <-time.After(10 * time.Millisecond):
		}
		if st, ok := procStat(pid); ok && st.stoppedBySignal {
			if held := flocksHeldBy(pid); len(held) > 0 {
				t.Fatalf("%s: the setuid dockless of dltest-alice (pid %d) is stopped holding store locks:\n%s", what, pid, strings.Join(held, "\n"))
			}
		}
	}
}

// TestSuid_TOSTOPDoesNotStopAPullHoldingTheStore: alice pulls in the
// background of her terminal and, once the download runs, sets TOSTOP so
// that the pull's next progress write would stop it with SIGTTOU while it
// holds the store's locks. Bob's pull of the same image must go through,
// and alice's must not stop.
func TestSuid_TOSTOPDoesNotStopAPullHoldingTheStore(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	ref, repo, big := slowImage(t, "tostop")
	tm := newUserTerminal(t, alice, `"$1" pull "$2" &
echo "pid=$!"
wait $!
echo "status=$?"
exec sleep 600`, suidBinary, ref)
	pid, _ := strconv.Atoi(tm.await(`pid=(\d+)`)[1])
	awaitDownload(t, repo, big)
	tm.setTOSTOP()
	if r := whileRunning(t, pid, e.background(bob, "pull", "-q", ref), "bob's pull"); r.code != 0 {
		t.Fatalf("bob's pull of the same image, while alice's pulls on a TOSTOP terminal: %s", r)
	}
	if r := whileRunning(t, pid, e.background(bob, "images"), "bob's images"); r.code != 0 {
		t.Fatalf("bob's images: %s", r)
	}
	if m := tm.await(`status=(\d+)`); m[1] != "0" || !strings.Contains(tm.output(), "Digest: ") {
		t.Fatalf("alice's pull in the background of a TOSTOP terminal: %s\n%s", m[0], tm.output())
	}
}

// TestSuid_FullPipeDoesNotHoldTheStore: alice pulls with her output on a
// pipe that, once the download runs, she fills and never reads: the pull's
// next progress write blocks for as long as she likes. It must not block
// with the store's locks held: bob's pull of the same image goes through,
// and alice's ends once she reads.
func TestSuid_FullPipeDoesNotHoldTheStore(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	ref, repo, big := slowImage(t, "fullpipe")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(suidBinary, "pull", ref)
	cmd.Dir, cmd.Env, cmd.SysProcAttr = alice.Home, []string{"HOME=" + alice.Home, "PATH=/usr/bin:/bin"}, asUserAttr(alice)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	awaitDownload(t, repo, big)
	// A second open of the pipe is a description of its own: made
	// non-blocking, it fills the pipe without touching alice's.
	filler, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", w.Fd()), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	for err == nil {
		_, err = unix.Write(filler, make([]byte, 4096))
	}
	unix.Close(filler)
	if !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("filling the pipe: %v", err)
	}
	if res := <-e.background(bob, "pull", "-q", ref); res.code != 0 {
		t.Fatalf("bob's pull of the same image, while alice's writes to a full pipe: %s", res)
	}
	out, _ := io.ReadAll(r)
	if err := cmd.Wait(); err != nil || !strings.Contains(string(out), "Digest: ") {
		t.Fatalf("alice's pull, once she read: %v\n%s%s", err, bytes.TrimLeft(out, "\x00"), stderr.String())
	}
}

// TestSuid_InterruptDuringSetupCleansUp: alice interrupts her container's
// setup from her terminal (^\ is SIGQUIT, ^C SIGINT) while it has state,
// a name and a rootfs directory and waits for the store lock. dockless
// must say so, exit 125 and leave nothing (newEnv's cleanup checks the
// mounts, state, names, snapshots and cgroups).
func TestSuid_InterruptDuringSetupCleansUp(t *testing.T) {
	img, err := testimage.Busybox(testimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, key, signal string }{
		{"SIGQUIT", "\x1c", "SIGQUIT"},
		{"SIGINT", "\x03", "SIGINT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			// The run must ask the registry (revalidate_seconds = 0): the
			// test holds it there.
			e.writePolicy("[registry]\nrevalidate_seconds = 0\n")
			repo := fmt.Sprintf("test/interrupted-%d", time.Now().UnixNano())
			ref, err := reg.Push(repo+":1", img)
			if err != nil {
				t.Fatal(err)
			}
			e.mustRun("pull", "-q", ref)
			// The registry holds alice's revalidation (after her look in
			// the store) until the test holds the store lock.
			gate := reg.Hold(repo)
			defer gate.Open()
			tm := newUserTerminal(t, alice, `"$1" run --rm --name interrupted "$2" true
echo "status=$?"
exec sleep 600`, suidBinary, ref)
			select {
			case <-gate.Arrived:
			case <-time.After(time.Minute):
				t.Fatalf("alice's run never asked the registry:\n%s", tm.output())
			}
			unlock := holdStoreLock(t, e.root)
			gate.Open()
			// The setup goes on to the store lock: state, name, rootfs.
			for i := 0; ; i++ {
				if dirs, _ := filepath.Glob(filepath.Join(e.state, "containers", "*", "rootfs")); len(dirs) > 0 {
					break
				}
				if i == 3000 {
					t.Fatalf("alice's setup never made its rootfs directory:\n%s", tm.output())
				}
				time.Sleep(10 * time.Millisecond)
			}
			tm.press(tc.key)
			m := tm.await(`status=(\d+)`)
			unlock()
			out := tm.output()
			if m[1] != "125" || !strings.Contains(out, "interrupted by "+tc.signal) || strings.Contains(out, "goroutine ") {
				t.Fatalf("%s during the setup: want exit 125 and a message naming it, got %s:\n%s", tc.signal, m[0], out)
			}
		})
	}
}

// TestSuid_StopDuringSetupDoesNotHoldTheStore: alice presses ^Z while her
// container's image downloads (her dockless holds blob locks of the
// store). Bob's pull of the same image must go through; alice's dockless
// stops only once it holds nothing others wait for, before its container
// starts, and runs it when continued.
func TestSuid_StopDuringSetupDoesNotHoldTheStore(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	ref, repo, big := slowImage(t, "tstp")
	tm := newUserTerminal(t, alice, `"$1" run --rm "$2" echo ran-after-resume
echo "status=$?"
exec sleep 600`, suidBinary, ref)
	pid := tm.child()
	awaitDownload(t, repo, big)
	tm.press("\x1a")
	if r := whileRunning(t, pid, e.background(bob, "pull", "-q", ref), "bob's pull"); r.code != 0 {
		t.Fatalf("bob's pull of the same image, after alice's ^Z: %s", r)
	}
	for i := 0; ; i++ {
		st, ok := procStat(pid)
		if !ok || st.ended {
			t.Fatalf("alice's dockless ended instead of stopping before its container:\n%s", tm.output())
		}
		if st.stoppedBySignal {
			break
		}
		if i == 6000 {
			t.Fatalf("alice's dockless never stopped after ^Z:\n%s", tm.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if held := flocksHeldBy(pid); len(held) > 0 {
		t.Fatalf("alice's dockless stopped holding store locks:\n%s", strings.Join(held, "\n"))
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	tm.await(`ran-after-resume`)
	for i := 0; ; i++ {
		if st, ok := procStat(pid); !ok || st.ended {
			break
		}
		if i == 6000 {
			t.Fatalf("alice's dockless did not end after its container:\n%s", tm.output())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdStoreLock takes the node's store lock, as another dockless would.
func holdStoreLock(t *testing.T, root string) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(root, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	unlock = func() { once.Do(func() { f.Close() }) }
	t.Cleanup(unlock)
	return unlock
}
