package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeGPUs is a node of four NVIDIA GPUs without a GPU (§1.9 of the
// research): device nodes made with NVIDIA's major (195), a fake driver
// library, a hook that logs its calls, and the CDI spec nvidia-ctk would
// write for them, in a root-owned directory. GPUs 1 and 3 sit on each
// other's minors (index 1 is /dev/nvidia3), as on nodes where nvidia-smi's
// order is not the driver's.
//
// With no driver loaded, opening a node the device cgroup allows fails
// with ENXIO ("No such device or address"), one it denies with EPERM
// ("Operation not permitted"): the oracle for what a container may use.
type fakeGPUs struct {
	dir, specDir, hook, hookLog, lib string
}

// gpuMinors are the minors of the GPUs by index.
var gpuMinors = []uint32{0, 3, 2, 1}

func fakeUUID(index int) string {
	return fmt.Sprintf("GPU-00000000-0000-0000-0000-00000000000%d", index)
}

const fakeLibcuda = "/usr/lib/x86_64-linux-gnu/libcuda.so.1"

func newFakeGPUs(t *testing.T) *fakeGPUs {
	t.Helper()
	dir := t.TempDir()
	g := &fakeGPUs{dir: dir, specDir: filepath.Join(dir, "cdi"), hook: filepath.Join(dir, "bin", "cdi-hook"),
		hookLog: filepath.Join(dir, "hook.log"), lib: filepath.Join(dir, "lib", "libcuda.so.1")}
	for _, d := range []string{"dev", "cdi", "bin", "lib"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	nodes := map[string]uint32{"nvidiactl": 255}
	for _, minor := range gpuMinors {
		nodes[fmt.Sprintf("nvidia%d", minor)] = minor
	}
	for name, minor := range nodes {
		p := filepath.Join(dir, "dev", name)
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(195, minor))); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	for p, body := range map[string]string{
		g.lib:  "fake libcuda\n",
		g.hook: "#!/bin/sh\necho \"$(basename $0) $*\" >> " + g.hookLog + "\n", // $0: the script, whatever argv[0]
	} {
		if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	g.writeSpec(t, "nvidia.yaml", g.hook, 0o644)
	return g
}

// writeSpec writes the fake node's CDI spec, naming hook, with mode.
func (g *fakeGPUs) writeSpec(t *testing.T, name, hook string, mode os.FileMode) {
	t.Helper()
	var devs strings.Builder
	for index, minor := range gpuMinors {
		for _, n := range []string{fmt.Sprint(index), fakeUUID(index)} {
			fmt.Fprintf(&devs, "- name: %q\n  containerEdits:\n    deviceNodes:\n    - path: /dev/nvidia%d\n      hostPath: %s/dev/nvidia%d\n", n, minor, g.dir, minor)
		}
	}
	body := fmt.Sprintf(`cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
%scontainerEdits:
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  deviceNodes:
  - path: /dev/nvidiactl
    hostPath: %s/dev/nvidiactl
  mounts:
  - hostPath: %s
    containerPath: %s
    options: [ro, nosuid, nodev, bind]
  hooks:
  - hookName: createContainer
    path: %s
    args: [nvidia-cdi-hook, create-symlinks, --link, libcuda.so.1::/usr/lib/x86_64-linux-gnu/libcuda.so]
`, devs.String(), g.dir, g.lib, fakeLibcuda, hook)
	p := filepath.Join(g.specDir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// policy is the [gpu] section that points dockless at the fake node.
func (g *fakeGPUs) policy() string {
	return fmt.Sprintf("[gpu]\ncdi_spec_dirs = [%q]\nallowed_hooks = [%q]\n", g.specDir, g.hook)
}

// hookCalls is how many times the spec's hook ran.
func (g *fakeGPUs) hookCalls(t *testing.T) int {
	b, err := os.ReadFile(g.hookLog)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "cdi-hook create-symlinks --link libcuda.so.1::")
}

// gpuJob is an LSF job of alice's on the fake GPU node, with a fake node
// for GPU 1 in her volume (/data/nvidia1): the device cgroup, not the
// missing node, must keep her from it.
func gpuJob(t *testing.T, e *env, g *fakeGPUs, script string) *lsfJobFixture {
	t.Helper()
	j := newLSFJob(t, e, alice, script)
	e.writePolicy(fmt.Sprintf("[job]\nulimits = [\"memlock=8388608\"]\nlsf_top = %q\n[volumes]\nallowed_prefixes = [%q]\n%s", j.lsfTop, j.storage, g.policy()))
	data := filepath.Join(j.storage, alice.Name)
	if err := unix.Mknod(filepath.Join(data, "nvidia1"), unix.S_IFCHR|0o666, int(unix.Mkdev(195, 1))); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(data, "nvidia1"), 0o666); err != nil {
		t.Fatal(err)
	}
	j.env = append(j.env, "LSF_DOCKER_VOLUMES="+data+":/data")
	return j
}

// TestGPU_LSFJobGetsExactlyItsAllocation is the "done when": an
// LSF job allocated GPUs 2,0 of four gets /dev/nvidia0, /dev/nvidia2 and
// /dev/nvidiactl and no other, the spec's library, its hook run once,
// CUDA_VISIBLE_DEVICES=1,0 (its own numbering, in LSF's order) with the
// host's list in _ORIG; the nodes are root's as on the host (CDI would
// give them to the job user); the device cgroup lets it open those nodes
// (ENXIO: no driver) and not GPU 1's (EPERM).
func TestGPU_LSFJobGetsExactlyItsAllocation(t *testing.T) {
	e := newEnv(t)
	g := newFakeGPUs(t)
	j := gpuJob(t, e, g, `ls /dev/nvidia*
ls -ln /dev/nvidia0 | awk '{print "owner", $3}'
cat `+fakeLibcuda+`
echo "CVD=$CUDA_VISIBLE_DEVICES NVD=$NVIDIA_VISIBLE_DEVICES ORIG=$CUDA_VISIBLE_DEVICES_ORIG"
for n in /dev/nvidia0 /dev/nvidia2 /dev/nvidiactl /data/nvidia1; do cat $n 2>&1; done
true`)
	r := j.run(e, alice, "CUDA_VISIBLE_DEVICES=2,0")
	want := "/dev/nvidia0\n/dev/nvidia2\n/dev/nvidiactl\n" +
		"owner 0\n" +
		"fake libcuda\n" +
		"CVD=1,0 NVD=1,0 ORIG=2,0\n" +
		"cat: can't open '/dev/nvidia0': No such device or address\n" +
		"cat: can't open '/dev/nvidia2': No such device or address\n" +
		"cat: can't open '/dev/nvidiactl': No such device or address\n" +
		"cat: can't open '/data/nvidia1': Operation not permitted\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("the job's GPUs:\n%s\nwant stdout:\n%s", r, want)
	}
	if n := g.hookCalls(t); n != 1 {
		t.Errorf("the spec's createContainer hook ran %d times, want once", n)
	}
	spec := e.runAs(alice, alice.Home, append(j.env, "CUDA_VISIBLE_DEVICES=2,0"), "lsf", "spec", j.jobFile)
	for _, s := range []string{`"path": "/dev/nvidia2"`, `"major": 195`, g.hook, `"CUDA_VISIBLE_DEVICES=1,0"`} {
		if spec.code != 0 || !strings.Contains(spec.stdout, s) {
			t.Errorf("dockless lsf spec shows the GPU part: no %s in %s", s, spec)
		}
	}
}

// TestGPU_RefusedOutsideTheAllocation: a GPU the job was not allocated is
// refused by the allocation rule, exit 125; so are a GPU the CDI spec
// lacks and an ID whose index and minor are different GPUs (G7, G8, G11).
func TestGPU_RefusedOutsideTheAllocation(t *testing.T) {
	e := newEnv(t)
	g := newFakeGPUs(t)
	j := gpuJob(t, e, g, "ls /dev/nvidia*")
	with := func(kv string) []string { return append(append([]string{}, j.env...), kv) }
	alloc := with("CUDA_VISIBLE_DEVICES=2,0")
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"--device of a GPU outside it", alloc, []string{"run", "--rm", "--device", "nvidia.com/gpu=3", busybox, "true"}, "gpu.allocation_only"},
		{"--gpus device= outside it", alloc, []string{"run", "--rm", "--gpus", "device=1", busybox, "true"}, "gpu.allocation_only"},
		{"more GPUs than it has", alloc, []string{"run", "--rm", "--gpus", "3", busybox, "true"}, "gpu.allocation_only"},
		{"no allocation at all", j.env, []string{"run", "--rm", "--gpus", "all", busybox, "true"}, "gpu.allocation_only"},
		{"a GPU the spec lacks", with("CUDA_VISIBLE_DEVICES=7"), []string{"lsf", "run", j.jobFile}, "regenerate it"},
		{"index 1 is minor 3", with("CUDA_VISIBLE_DEVICES=1"), []string{"lsf", "run", j.jobFile}, "[gpu] lsf_id_kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.runAs(alice, alice.Home, tc.env, tc.args...)
			if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want 125 naming %q, got %s", tc.want, r)
			}
		})
	}
	r := e.runAs(alice, alice.Home, alloc, "run", "--rm", "--gpus", "all", busybox, "ls", "/dev/")
	if r.code != 0 || !strings.Contains(r.stdout, "nvidia0\nnvidia2\nnvidiactl\n") || strings.Contains(r.stdout, "nvidia1") || strings.Contains(r.stdout, "nvidia3") {
		t.Errorf("--gpus all in the job is its allocation: %s", r)
	}
	r = e.runAs(alice, alice.Home, alloc, "lsf", "gpus")
	if r.code != 0 || !strings.Contains(r.stdout, "allocation: CUDA_VISIBLE_DEVICES=2,0") || !strings.Contains(r.stdout, "allow c 195:2 rwm") {
		t.Errorf("dockless lsf gpus: %s", r)
	}
}

// TestGPU_RootRunsADeviceByItsCDIName: `dockless run --device
// nvidia.com/gpu=1` (docker 25's form) gives root GPU 1 — /dev/nvidia3 on
// this node — with the spec's library and control node, and the device
// cgroup denies the other GPUs even to root with CAP_MKNOD.
func TestGPU_RootRunsADeviceByItsCDIName(t *testing.T) {
	e := newEnv(t)
	g := newFakeGPUs(t)
	pol := filepath.Join(g.dir, "policy.toml")
	if err := os.WriteFile(pol, []byte(g.policy()), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `ls /dev/nvidia*; cat ` + fakeLibcuda + `
cat /dev/nvidia3 2>&1; mknod /tmp/gpu1 c 195 1 && cat /tmp/gpu1 2>&1; true`
	r := e.run("--policy", pol, "run", "--rm", "--device", "nvidia.com/gpu=1", busybox, "sh", "-c", script)
	want := "/dev/nvidia3\n/dev/nvidiactl\nfake libcuda\n" +
		"cat: can't open '/dev/nvidia3': No such device or address\n" +
		"cat: can't open '/tmp/gpu1': Operation not permitted\n"
	if r.code != 0 || r.stdout != want {
		t.Fatalf("root's CDI device:\n%s\nwant stdout:\n%s", r, want)
	}
	r = e.run("--policy", pol, "run", "--rm", "--gpus", `"device=`+fakeUUID(2)+`,0"`, busybox, "ls", "/dev")
	if r.code != 0 || !strings.Contains(r.stdout, "nvidia0\nnvidia2\nnvidiactl\n") || strings.Contains(r.stdout, "nvidia3") {
		t.Errorf("--gpus device= by UUID and index: %s", r)
	}
	if r := e.run("--policy", pol, "run", "--rm", "--device", "nvidia.com/gpu=9", busybox, "true"); r.code != 125 || !strings.Contains(r.stderr, "unresolvable CDI devices nvidia.com/gpu=9") {
		t.Errorf("a device no spec defines: %s", r)
	}
	if out := e.mustRun("--policy", pol, "cdi", "list"); !strings.Contains(out, "nvidia.com/gpu=3\nnvidia.com/gpu="+fakeUUID(0)+"\n") {
		t.Errorf("dockless cdi list: %q", out)
	}
}

// TestGPU_UntrustedSpecsAndHooksAreRefused (G9): a spec file others may
// write, a hook outside [gpu] allowed_hooks, and an allowed hook others
// may write are each refused naming the rule, and nothing runs.
func TestGPU_UntrustedSpecsAndHooksAreRefused(t *testing.T) {
	e := newEnv(t)
	evil := filepath.Join(t.TempDir(), "evil")
	if err := os.WriteFile(evil, []byte("#!/bin/sh\ntouch "+evil+".ran\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, g *fakeGPUs)
		want  string
	}{
		{"a group-writable spec", func(t *testing.T, g *fakeGPUs) { g.writeSpec(t, "nvidia.yaml", g.hook, 0o664) }, "refused by [gpu] cdi_spec_dirs"},
		{"a spec directory others may write", func(t *testing.T, g *fakeGPUs) { must(t, os.Chmod(g.specDir, 0o777)) }, "refused by [gpu] cdi_spec_dirs"},
		{"a hook outside allowed_hooks", func(t *testing.T, g *fakeGPUs) { g.writeSpec(t, "nvidia.yaml", evil, 0o644) }, "refused by [gpu] allowed_hooks"},
		{"an allowed hook others may write", func(t *testing.T, g *fakeGPUs) { must(t, os.Chmod(g.hook, 0o777)) }, "refused by [gpu] allowed_hooks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGPUs(t)
			j := gpuJob(t, e, g, "true")
			tc.setup(t, g)
			r := j.run(e, alice, "CUDA_VISIBLE_DEVICES=0")
			if r.code != 125 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("want 125 naming %q, got %s", tc.want, r)
			}
			if _, err := os.Stat(evil + ".ran"); err == nil || g.hookCalls(t) != 0 {
				t.Fatal("a hook ran")
			}
		})
	}
}

// TestGPU_WithoutASpec: --gpus falls back to the bare device nodes with a
// warning naming dockless cdi generate (here there are none, so docker's
// error follows); generate is root's, and without an NVIDIA driver it
// fails saying so.
func TestGPU_WithoutASpec(t *testing.T) {
	e := newEnv(t)
	pol := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(pol, []byte(fmt.Sprintf("[gpu]\ncdi_spec_dirs = [%q]\n", t.TempDir())), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.run("--policy", pol, "run", "--rm", "--gpus", "all", busybox, "true")
	if r.code != 125 || !strings.Contains(r.stderr, "dockless cdi generate") || !strings.Contains(r.stderr, "no NVIDIA GPU device nodes") {
		t.Errorf("--gpus without a CDI spec: %s", r)
	}
	buildLibexec(t, "dockless-cdi")
	if r := e.run("--policy", pol, "cdi", "generate"); r.code != 125 || !strings.Contains(r.stderr, "NVIDIA") || strings.Contains(r.stderr, "panic") {
		t.Errorf("cdi generate without a driver: %s", r)
	}
	e.writePolicy("")
	if r := e.runAs(alice, alice.Home, nil, "cdi", "generate"); r.code != 125 || !strings.Contains(r.stderr, "only root") {
		t.Errorf("cdi generate as a user: %s", r)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
