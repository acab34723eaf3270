package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loaderTracer watches the container's processes for dockless-init's
// seccomp loader and tries to trace each one (PTRACE_SEIZE), as a process
// that wants to skip its filter would; one it could stop before the filter
// was in place is reported "ATTACHED-UNFILTERED".
const loaderTracer = `package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	runtime.LockOSThread()
	seen := map[int]bool{}
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); {
		if _, err := os.Stat("/tmp/stop"); err == nil {
			return
		}
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() || seen[pid] {
				continue
			}
			cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if !strings.Contains(string(cmdline), "--seccomp") {
				continue
			}
			if _, _, errno := syscall.Syscall6(syscall.SYS_PTRACE, 0x4206, uintptr(pid), 0, 0, 0, 0); errno != 0 {
				fmt.Println("refused:", errno)
				continue
			}
			seen[pid] = true
			syscall.Syscall6(syscall.SYS_PTRACE, 0x4207, uintptr(pid), 0, 0, 0, 0) // PTRACE_INTERRUPT
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0x40000000, nil)
			status, _ := os.ReadFile("/proc/" + e.Name() + "/status")
			if strings.Contains(string(status), "\nSeccomp:\t0\n") {
				fmt.Println("ATTACHED-UNFILTERED", pid)
			} else {
				fmt.Println("attached, filtered", pid)
			}
			syscall.Syscall6(syscall.SYS_PTRACE, syscall.PTRACE_DETACH, uintptr(pid), 0, 0, 0, 0)
		}
	}
}
`

// TestSeccomp_NoProcessOfTheContainerCanStopTheLoader: the attack a review
// found on the seccomp loader. A tracer in the container tries to seize
// every loader that dockless exec starts in it, to skip the filter. The
// loader holds a capability outside the container's bounding set until its
// filter is in place, so no seize succeeds before, and every exec'd
// process runs under the filter: in a root container with
// no_new_privileges (the loader, as root, is readable and dumpable), and
// in an ordinary user's job container through the setuid binary (whose
// loader that user cannot read, so it is not dumpable either).
func TestSeccomp_NoProcessOfTheContainerCanStopTheLoader(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	j := newLSFJob(t, e, alice, "true")
	data := filepath.Join(j.storage, alice.Name)
	tracer, err := os.ReadFile(buildStatic(t, loaderTracer))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "tracer"), tracer, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("root with no-new-privileges", func(t *testing.T) {
		traceLoaders(t, e.run, "0", "--security-opt", "no-new-privileges", "-v", data+":/data")
	})
	t.Run("a user through the setuid binary", func(t *testing.T) {
		asAlice := func(args ...string) result { return e.runAs(alice, alice.Home, nil, args...) }
		traceLoaders(t, asAlice, fmt.Sprint(alice.UID), "-v", data+":/data")
	})
}

// traceLoaders runs the tracer in a container started with run and the
// given options, execs into it a dozen times, and checks that every exec'd
// process (uid) ran under the filter and no loader was stopped before it.
func traceLoaders(t *testing.T, run func(args ...string) result, uid string, opts ...string) {
	name := "loader-tracer"
	done := make(chan result, 1)
	go func() {
		done <- run(append(append([]string{"run", "--rm", "--name", name}, opts...), busybox, "sh", "-c",
			"/data/tracer > /tmp/log 2>&1 & while [ ! -e /tmp/stop ]; do sleep 0.05; done; wait; cat /tmp/log")...)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for r := run("exec", name, "true"); r.code != 0; r = run("exec", name, "true") {
		select {
		case ended := <-done:
			t.Fatalf("the container ended: %s", ended)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the container did not start: %s", r)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 0; i < 12; i++ {
		if r := run("exec", name, "sh", "-c", "id -u; grep ^Seccomp: /proc/self/status"); r.code != 0 || r.stdout != uid+"\nSeccomp:\t2\n" {
			t.Errorf("exec %d: a process of the container escaped its filter: %s", i, r)
		}
	}
	run("exec", name, "touch", "/tmp/stop")
	r := <-done
	if strings.Contains(r.stdout, "ATTACHED-UNFILTERED") {
		t.Errorf("a process of the container stopped a loader before its filter:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "refused: operation not permitted") {
		t.Errorf("the tracer never met a loader (the test proves nothing):\n%s", r)
	}
}
