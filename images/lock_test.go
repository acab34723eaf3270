package images

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logrustest "github.com/sirupsen/logrus/hooks/test"
)

// TestLockHolderProcess is not a test: run with DOCKLESS_TEST_LOCK set, it
// takes that lock, says so and holds it until its stdin closes.
func TestLockHolderProcess(t *testing.T) {
	path := os.Getenv("DOCKLESS_TEST_LOCK")
	if path == "" {
		t.Skip("the lock holder of TestLockFile_NamesItsHolder")
	}
	f, err := lockFile(context.Background(), path, exclusive, time.Second, logrus.New())
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer f.Close()
	if pid := os.Getenv("DOCKLESS_TEST_LOCK_STALE_PID"); pid != "" {
		// As a holder stopped before it wrote its pid: the file names
		// the holder before it.
		_ = f.Truncate(0)
		_, _ = f.WriteAt([]byte(pid+"\n"), 0)
	}
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

// startLockHolder starts TestLockHolderProcess on the lock path and waits
// until it holds the lock.
func startLockHolder(t *testing.T, path string, env ...string) *exec.Cmd {
	t.Helper()
	holder := exec.Command(os.Args[0], "-test.run=^TestLockHolderProcess$")
	holder.Env = append(append(os.Environ(), "DOCKLESS_TEST_LOCK="+path), env...)
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = holder.Process.Signal(syscall.SIGCONT)
		stdin.Close()
		_ = holder.Wait()
	})
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("the holder: %q", line)
	}
	return holder
}

// waitKilled checks that lockFile took the lock from a stuck holder after
// about stoppedHolderGrace, that the holder died of SIGKILL, and that the
// waiter said so on its log.
func waitKilled(t *testing.T, path string, holder *exec.Cmd, stuck string) {
	t.Helper()
	log, hook := logrustest.NewNullLogger()
	start := time.Now()
	f, err := lockFile(context.Background(), path, exclusive, time.Minute, log)
	waited := time.Since(start)
	if err != nil {
		t.Fatalf("a waiter for a %s holder takes the lock once the holder is ended: %v", stuck, err)
	}
	f.Close()
	if waited < stoppedHolderGrace || waited > stoppedHolderGrace+10*time.Second {
		t.Errorf("a waiter for a %s holder waited %s, want about %s", stuck, waited, stoppedHolderGrace)
	}
	_ = holder.Wait()
	if ws, ok := holder.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the %s holder ended with %v, want SIGKILL", stuck, holder.ProcessState)
	}
	want := fmt.Sprintf("ended dockless process %d (SIGKILL): it held the image store's lock while %s", holder.Process.Pid, stuck)
	if e := hook.LastEntry(); e == nil || !strings.Contains(e.Message, want) {
		t.Errorf("the waiter's log: %v, want %q", e, want)
	}
}

// TestLockFile_NamesItsHolder: a waiter names the process that holds the
// lock when it gives up.
func TestLockFile_NamesItsHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	holder := startLockHolder(t, path)
	pid := fmt.Sprint(holder.Process.Pid)
	_, err := lockFile(context.Background(), path, exclusive, 100*time.Millisecond, logrus.New())
	if err == nil || !strings.Contains(err.Error(), "pid "+pid) {
		t.Fatalf("a waiter that times out names the holder (pid %s): %v", pid, err)
	}
}

// TestLockFile_WaitersGetTheLockInTurn: waiters wait in the kernel and
// each gets the lock when the one before lets go; a waiter that gave up
// (ctx, timeout) while blocked lets go of a lock granted to it later, so the
// next one still gets it.
func TestLockFile_WaitersGetTheLockInTurn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	first, err := lockFile(context.Background(), path, exclusive, time.Second, logrus.New())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, path, exclusive, time.Minute, logrus.New()); err != context.DeadlineExceeded {
		t.Fatalf("a waiter whose context ends: %v", err)
	}
	if _, err := lockFile(context.Background(), path, exclusive, 50*time.Millisecond, logrus.New()); err == nil || !strings.Contains(err.Error(), "retry later") {
		t.Fatalf("a waiter that times out: %v", err)
	}
	got := make(chan *os.File)
	go func() {
		f, err := lockFile(context.Background(), path, exclusive, time.Minute, logrus.New())
		if err != nil {
			t.Error(err)
		}
		got <- f
	}()
	first.Close()
	last := <-got
	if last == nil {
		t.Fatal("the waiter did not get the lock its holder let go")
	}
	// Both waiters that gave up were granted the lock in turn and let it go.
	last.Close()
	f, err := lockFile(context.Background(), path, exclusive, 5*time.Second, logrus.New())
	if err != nil {
		t.Fatalf("the lock must be free once its holders let go: %v", err)
	}
	f.Close()
}

// TestLockFile_EndsAStoppedHolder: a holder that stays stopped (SIGSTOP, a
// suspended job) would hold up the node for as long as its owner likes; the
// next waiter ends it after the grace and takes the lock.
func TestLockFile_EndsAStoppedHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	holder := startLockHolder(t, path)
	if err := holder.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, path, holder, "stopped")
}

// TestLockFile_EndsAStoppedHolderTheFileDoesNotName: a holder stopped
// before it wrote its pid leaves the file naming the holder before it
// (here a pid no process has); the kernel's lock table names the real
// one, which the waiter ends all the same.
func TestLockFile_EndsAStoppedHolderTheFileDoesNotName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	holder := startLockHolder(t, path, "DOCKLESS_TEST_LOCK_STALE_PID=999999999")
	if err := holder.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, path, holder, "stopped")
}

// TestLockFile_EndsAFrozenHolder: the same for a holder whose cgroup v2 is
// frozen (cgroup.freeze), which a user can do to a cgroup delegated to
// them: the process then looks asleep, not stopped.
func TestLockFile_EndsAFrozenHolder(t *testing.T) {
	mnts := cgroupMounts("cgroup2", "")
	if os.Geteuid() != 0 || len(mnts) == 0 {
		t.Skip("needs root and a cgroup2 mount")
	}
	cg := filepath.Join(mnts[0], fmt.Sprintf("dockless-test-freeze-%d", os.Getpid()))
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = os.WriteFile(filepath.Join(cg, "cgroup.freeze"), []byte("0"), 0)
		for i := 0; i < 100 && os.Remove(cg) != nil; i++ {
			time.Sleep(20 * time.Millisecond) // the killed holder leaves the cgroup as it is reaped
		}
	})
	path := filepath.Join(t.TempDir(), "lock")
	holder := startLockHolder(t, path)
	if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(fmt.Sprint(holder.Process.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cg, "cgroup.freeze"), []byte("1"), 0); err != nil {
		t.Skipf("no cgroup v2 freezer: %v", err)
	}
	for !processFrozen(holder.Process.Pid) {
		time.Sleep(10 * time.Millisecond)
	}
	waitKilled(t, path, holder, "frozen")
}

// TestLockFile_EndsOnlyADocklessHoldingTheLock: the pid in the lock file is
// checked against the kernel's lock table and the holder's executable
// before anything is killed: a stopped process of another program that
// holds the lock is named, not killed.
func TestLockFile_EndsOnlyADocklessHoldingTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	other := exec.Command("flock", path, "sleep", "60")
	if err := other.Start(); err != nil {
		t.Skipf("no flock(1): %v", err)
	}
	t.Cleanup(func() { _ = other.Process.Kill(); _ = other.Wait() })
	for {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err == nil {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			f.Close()
		}
		if err == syscall.EWOULDBLOCK {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.WriteFile(path, []byte(fmt.Sprint(other.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := other.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	_, err := lockFile(context.Background(), path, exclusive, time.Minute, logrus.New())
	if err == nil || !strings.Contains(err.Error(), "does not run this dockless") {
		t.Fatalf("a stuck holder that is not dockless is named, not killed: %v", err)
	}
	if holderStuck(other.Process.Pid) != "stopped" {
		t.Errorf("the other program's process is no longer stopped: it was signalled")
	}
}

// TestStore_RootIsRootsAlone: containerd's content store below the store's
// directory is world-readable, so the directory itself must not be: one an
// admin made 0755 is closed at the first operation, and one that is not
// root's is refused.
func TestStore_RootIsRootsAlone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s := NewStore(root)
	if _, _, err := s.Snapshots(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("a store directory made 0755 is closed: %v %v", fi.Mode(), err)
	}
	if err := os.Chown(root, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Snapshots(context.Background()); err == nil || !strings.Contains(err.Error(), "is not root's") {
		t.Errorf("a store directory of another user's is refused: %v", err)
	}
}
