package main

import (
	"fmt"
	"github.com/dockless/dockless/oci"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dockless/dockless/hack/testimage"
)

// TestContainerd_RunsDocklessAsItsRuntime starts Debian's containerd on a
// private socket and root, with the runc shim pointed at dockless-runc,
// and runs a container end to end through ctr: exit status, exec, kill.
func TestContainerd_RunsDocklessAsItsRuntime(t *testing.T) {
	newEnv(t) // skips without root; checks that nothing is left behind
	dir := openTempDir(t)
	removeCgroupParent(t, "dltest") // ctr's namespace: the containers' cgroup parent
	sock := startContainerd(t, dir, "")

	wrapper, calls := recordingRuntime(t, dir)
	runcRoot := filepath.Join(dir, "runc")
	ctr := func(args ...string) result {
		t.Helper()
		return runCmd(t, exec.Command("ctr", append([]string{"--address", sock, "--namespace", "dltest"}, args...)...))
	}
	if r := ctr("images", "pull", "--plain-http", busybox); r.code != 0 {
		t.Fatalf("ctr pull: %s", r)
	}
	runFlags := []string{"--runc-binary", wrapper, "--runc-root", runcRoot}
	r := ctr(append(append([]string{"run", "--rm"}, runFlags...), busybox, "c1", "sh", "-c", "echo from-dockless; exit 7")...)
	if r.code != 7 || !strings.Contains(r.stdout, "from-dockless") {
		t.Fatalf("ctr run through dockless-runc: %s", r)
	}
	if r := ctr(append(append([]string{"run", "-d"}, runFlags...), busybox, "c2", "sleep", "100")...); r.code != 0 {
		t.Fatalf("ctr run -d: %s", r)
	}
	if r := ctr("task", "exec", "--exec-id", "e1", "c2", "sh", "-c", "echo exec-$((6*7))"); r.code != 0 || !strings.Contains(r.stdout, "exec-42") {
		t.Fatalf("ctr task exec: %s", r)
	}
	if r := ctr("task", "kill", "--signal", "SIGKILL", "c2"); r.code != 0 {
		t.Fatalf("ctr task kill: %s", r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ls := ctr("task", "ls").stdout
		if strings.Contains(ls, "STOPPED") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed task did not stop: %s", ls)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := ctr("task", "delete", "c2"); r.code != 0 {
		t.Fatalf("ctr task delete: %s", r)
	}
	if r := ctr("containers", "delete", "c2"); r.code != 0 {
		t.Fatalf("ctr containers delete: %s", r)
	}
	assertCalled(t, calls, "create", "start", "exec", "kill", "delete")
}

// recordingRuntime makes the runc binary for containerd's shim: a wrapper
// that records each call in the calls file and runs dockless under the
// name dockless-runc.
func recordingRuntime(t *testing.T, dir string) (wrapper, calls string) {
	t.Helper()
	runcName := filepath.Join(dir, oci.Name)
	if err := os.Symlink(binary, runcName); err != nil {
		t.Fatal(err)
	}
	calls = filepath.Join(dir, "calls")
	wrapper = filepath.Join(dir, "runtime")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %s\nexec %s \"$@\"\n", calls, runcName)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, calls
}

// removeCgroupParent removes, when the test ends, the (empty) cgroup
// name in every v1 controller: containerd's containers are removed with
// their own cgroups but leave the parent they were put under.
func removeCgroupParent(t *testing.T, name string) {
	t.Cleanup(func() {
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", name))
		for _, d := range dirs {
			if err := os.Remove(d); err != nil {
				t.Errorf("cgroup parent left behind: %v", err)
			}
		}
	})
}

// assertCalled checks that the shim called dockless-runc with each verb.
func assertCalled(t *testing.T, calls string, verbs ...string) {
	t.Helper()
	got, _ := os.ReadFile(calls)
	for _, verb := range verbs {
		if !strings.Contains(string(got), " "+verb+" ") {
			t.Errorf("the shim never called dockless-runc %s:\n%s", verb, got)
		}
	}
}

// startContainerd runs Debian's containerd on a private socket and root in
// dir until the test ends, and returns its socket; cri configures its CRI
// plugin ("": off).
func startContainerd(t *testing.T, dir, cri string) string {
	t.Helper()
	for _, tool := range []string{"containerd", "ctr", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (make test installs Debian's containerd): %v", tool, err)
		}
	}
	sock, stop, err := testimage.StartContainerd(dir, cri)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return sock
}

// TestContainerdBackend_SameBehaviour runs the image and run tests' core
// against a containerd daemon's store (--containerd-address).
func TestContainerdBackend_SameBehaviour(t *testing.T) {
	e := newEnv(t)
	sock := startContainerd(t, openTempDir(t), "")
	e.global = []string{"--containerd-address", sock}
	out := e.mustRun("pull", busybox)
	if !strings.Contains(out, "Digest: sha256:") {
		t.Fatalf("pull into containerd: %q", out)
	}
	if r := e.run("run", "--rm", "-q", busybox, "sh", "-c", "id -u; cat /etc/motd 2>/dev/null; exit 3"); r.code != 3 || r.stdout != "0\n" {
		t.Fatalf("run from containerd's snapshots (exit status, whiteouts): %s", r)
	}
	if out := e.mustRun("run", "--rm", "-q", "-u", "alice", busybox, "id"); !strings.HasPrefix(out, "uid=1000(alice)") {
		t.Fatalf("-u against the image: %q", out)
	}
	if list := e.mustRun("images"); !strings.Contains(list, "test/busybox") {
		t.Fatalf("images lists containerd's: %q", list)
	}
	if r := runCmd(t, exec.Command("ctr", "--address", sock, "--namespace", "dockless", "images", "ls", "-q")); !strings.Contains(r.stdout, busybox) {
		t.Fatalf("the image is in containerd's dockless namespace: %s", r)
	}
	// Concurrent pulls of one image share one download; an index with
	// zstd layers picks linux/amd64.
	img, err := testimage.Busybox(testimage.Options{Compression: "zstd", Env: []string{"BACKEND=containerd"}})
	if err != nil {
		t.Fatal(err)
	}
	idx, err := testimage.Index(img)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reg.PushIndex("test/daemon:zstd", idx)
	if err != nil {
		t.Fatal(err)
	}
	reg.Reset()
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := e.run("pull", "-q", ref); r.code != 0 {
				t.Errorf("concurrent pull: %s", r)
			}
		}()
	}
	wg.Wait()
	for blob, n := range reg.BlobGets("test/daemon") {
		if n != 1 {
			t.Errorf("blob %s fetched %d times", blob, n)
		}
	}
	if out := e.mustRun("run", "--rm", "-q", ref, "sh", "-c", "echo $BACKEND; uname -m"); out != "containerd\nx86_64\n" {
		t.Fatalf("zstd index through containerd: %q", out)
	}
	e.mustRun("rmi", busybox)
	e.mustRun("rmi", ref)
	if list := e.mustRun("images"); strings.Count(list, "\n") != 1 {
		t.Fatalf("rmi through containerd: %q", list)
	}
	dead := filepath.Join(openTempDir(t), "no.sock")
	if r := e.run("--containerd-address", dead, "pull", busybox); r.code != 125 || !strings.Contains(r.stderr, "does not answer") {
		t.Fatalf("a daemon that does not answer: %s", r)
	}
}

// forEachBackend runs fn against the embedded store and against a
// containerd daemon's (a private one, started for the subtest).
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("embedded", func(t *testing.T) { fn(t, newEnv(t)) })
	t.Run("containerd", func(t *testing.T) {
		e := newEnv(t)
		e.containerd = startContainerd(t, openTempDir(t), "")
		e.global = []string{"--containerd-address", e.containerd}
		fn(t, e)
	})
}
