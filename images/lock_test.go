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
)

// TestLockHolderProcess is not a test: run with DOCKLESS_TEST_LOCK set, it
// takes that lock, says so and holds it until its stdin closes.
func TestLockHolderProcess(t *testing.T) {
	path := os.Getenv("DOCKLESS_TEST_LOCK")
	if path == "" {
		t.Skip("the lock holder of TestLockFile_NamesItsHolder")
	}
	f, err := lockFile(context.Background(), path, time.Second)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	defer f.Close()
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

// TestLockFile_NamesItsHolder: a waiter names the process that holds the
// lock when it gives up, and gives up soon, saying so, when that process
// is stopped (a stopped holder would hold the node up as long as it stays
// stopped).
func TestLockFile_NamesItsHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	holder := exec.Command(os.Args[0], "-test.run=^TestLockHolderProcess$")
	holder.Env = append(os.Environ(), "DOCKLESS_TEST_LOCK="+path)
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
	pid := fmt.Sprint(holder.Process.Pid)

	_, err = lockFile(context.Background(), path, 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "pid "+pid) {
		t.Fatalf("a waiter that times out names the holder (pid %s): %v", pid, err)
	}

	if err := holder.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = lockFile(context.Background(), path, time.Minute)
	waited := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "process "+pid+", which is stopped") {
		t.Fatalf("a waiter for a stopped holder says so, naming it: %v", err)
	}
	if waited > stoppedHolderGrace+5*time.Second {
		t.Errorf("a waiter for a stopped holder waited %s, want about %s", waited, stoppedHolderGrace)
	}
}
