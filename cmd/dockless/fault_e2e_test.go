package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
)

// TestFault_StormWithKilledDocklessLeavesNothing: 16 containers of three
// images start at once on an empty store (so their pulls race too); four
// of their dockless processes are SIGKILLed at different moments (while
// pulling, once the container has its ID, once it runs, at a random
// point). The others finish with their container's status; after
// `system prune` nothing is left (no container state, mount, snapshot,
// cgroup or process of the storm) and the next run works.
func TestFault_StormWithKilledDocklessLeavesNothing(t *testing.T) {
	e := newEnv(t)
	refs := []string{busybox}
	for i, size := range []int{1 << 20, 2 << 20} {
		img, err := testimage.WithBigFile(size)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := reg.Push(fmt.Sprintf("test/storm-%d:1", i), img)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, ref)
	}
	marker := fmt.Sprintf("storm-%d", os.Getpid())
	victims := map[int]func(cid string){
		0:  func(string) { time.Sleep(50 * time.Millisecond) },    // while pulling
		5:  func(cid string) { waitWritten(cid, 60*time.Second) }, // the container has its ID
		10: func(cid string) { waitRunning(cid, 60*time.Second) },
		15: func(string) { time.Sleep(time.Duration(100+os.Getpid()%700) * time.Millisecond) },
	}
	var wg sync.WaitGroup
	codes := make([]int, 16)
	outputs := make([]string, 16)
	for i := range 16 {
		cid := e.cidfile(fmt.Sprintf("storm%d", i))
		cmd := exec.Command(binary, "--root", e.root, "--state", e.state, "run", "--rm", "-q", "--cidfile", cid,
			refs[i%3], "sh", "-c", "sleep 1; exit 7 # "+marker)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if kill, ok := victims[i]; ok {
				kill(cid)
				_ = cmd.Process.Kill()
			}
			_ = cmd.Wait()
			codes[i], outputs[i] = cmd.ProcessState.ExitCode(), out.String()
		}()
	}
	wg.Wait()
	for i, code := range codes {
		if _, victim := victims[i]; !victim && code != 7 {
			t.Errorf("container %d (%s) exited %d, want its status 7: %s", i, refs[i%3], code, outputs[i])
		}
	}
	e.mustRun("system", "prune")
	if pids := processesWith(marker); len(pids) > 0 {
		t.Errorf("processes of the storm left after system prune: %v", pids)
	}
	if out := e.mustRun("run", "--rm", "-q", refs[1], "sh", "-c", "wc -c < /big"); strings.TrimSpace(out) != fmt.Sprint(1<<20) {
		t.Errorf("the next run: %q", out)
	}
	if out := e.mustRun("ps", "-a", "-q"); out != "" {
		t.Errorf("containers left after system prune: %q", out)
	}
}

// waitWritten waits up to timeout for p to have content.
func waitWritten(p string, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(p); err == nil && len(b) > 0 {
			return
		}
	}
}

// waitRunning waits up to timeout for the container of cidfile cid to
// have a process in its cgroup.
func waitRunning(cid string, timeout time.Duration) {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(cid)
		if err != nil || len(b) != 64 {
			continue
		}
		if cg := findCgroup("dockless-" + string(b)[:12]); cg != "" {
			if procs, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs")); len(strings.TrimSpace(string(procs))) > 0 {
				return
			}
		}
	}
}

// processesWith lists the live processes whose command line holds s.
func processesWith(s string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), s) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			st := string(stat)
			if strings.HasPrefix(strings.TrimSpace(st[strings.LastIndexByte(st, ')')+1:]), "Z") {
				continue // a zombie holds nothing
			}
		}
		pids = append(pids, e.Name())
	}
	return pids
}

// TestFault_KilledOnceTheImageIsFoundLeavesNothing: a dockless killed
// (bkill, an OOM kill) just after it found its image — when the store
// session that found it has already prepared the container's snapshot —
// leaves a record the next dockless reaps, never a snapshot nothing owns
// (which would pin the image's layers in the node store for good).
func TestFault_KilledOnceTheImageIsFoundLeavesNothing(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	for i := range 8 {
		cmd := exec.Command(binary, "--root", e.root, "--state", e.state, "--debug", "run", "--rm", "--pull", "never", busybox, "sleep", "30")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		found := false
		for !found && sc.Scan() {
			found = strings.Contains(sc.Text(), "using the cached copy")
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if !found {
			t.Fatalf("run %d: no line saying the image was found", i)
		}
	}
	// The next start reaps what the killed ones left.
	e.mustRun("run", "--rm", "--pull", "never", busybox, "true")
	if out := e.mustRun("ps", "-a", "-q"); out != "" {
		t.Errorf("containers left: %q", out)
	}
	// e's cleanup checks that no container snapshot is left in the store.
}
