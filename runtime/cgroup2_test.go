package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fakeCgroup2 lays out a job cgroup in a directory standing for the
// cgroup2 mount (regular files take the writes).
func fakeCgroup2(t *testing.T, controllers string) (root, job string) {
	t.Helper()
	root, job = t.TempDir(), "/lsf/job.23870"
	dir := filepath.Join(root, job)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, body := range map[string]string{"cgroup.controllers": controllers, "cgroup.subtree_control": "", "cgroup.procs": ""} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, job
}

// TestPlaceV2_AFailureAfterTheMoveIsRestored: once dockless moved into
// its leaf, a later step's failure (here the job's cgroup.controllers
// cannot be read) still returns the placement, whose Restore moves the
// processes back.
func TestPlaceV2_AFailureAfterTheMoveIsRestored(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("records the job's controllers in a trusted xattr: needs root")
	}
	root, job := fakeCgroup2(t, "")
	if err := os.Remove(filepath.Join(root, job, "cgroup.controllers")); err != nil {
		t.Fatal(err)
	}
	p, err := placeIn(root, job, 4242)
	if err == nil || p == nil {
		t.Fatalf("placeIn = %v, %v: want the placement and the error", p, err)
	}
	p.Restore()
	if procs, _ := os.ReadFile(filepath.Join(root, job, "cgroup.procs")); string(procs) != "4242" {
		t.Errorf("after Restore the job cgroup holds %q, want dockless (4242) back", procs)
	}
}

// TestPlaceV2_SeveralDocklessOfAJobLeaveItAsItWas places dockless
// processes of one job on this machine's cgroup2 mount, then has them
// leave in turn: whichever leaves first, the job's controllers stay
// enabled while another's container may need them and the processes of
// the one that left stay in the job's subtree; once the last left, the
// job cgroup is as it was: its processes back, no leaf (nor one of a
// dockless that died), the controllers it had, no xattr of dockless.
func TestPlaceV2_SeveralDocklessOfAJobLeaveItAsItWas(t *testing.T) {
	for _, tc := range []struct {
		name   string
		placed int   // how many dockless are placed, one after the other
		dies   int   // the one that dies instead of leaving (-1: none)
		leave  []int // the order in which the others leave
		stale  bool  // an empty leaf of a dockless that died is there
	}{
		{"the first placed leaves first", 2, -1, []int{0, 1}, false},
		{"the last placed leaves first", 2, -1, []int{1, 0}, false},
		{"one alone, beside an empty leaf of a dockless that died", 1, -1, []int{0}, true},
		{"the first placed dies with the job's script in its leaf", 2, 0, []int{1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, job, ctl, pids := unifiedJob(t)
			script := pids[2] // the job's own process, neither dockless
			placed := make([]*v2Placement, tc.placed)
			for i := range placed {
				p, err := placeIn(root, job, pids[i])
				if err != nil {
					t.Fatalf("placing dockless %d: %v", i, err)
				}
				placed[i] = p
				if got := cgroupOf(t, pids[i]); got != p.leaf {
					t.Errorf("dockless %d is in %s, want its leaf %s", i, got, p.leaf)
				}
			}
			if got := cgroupOf(t, script); got != placed[0].leaf {
				t.Errorf("the job's script is in %s, want the first dockless's leaf %s", got, placed[0].leaf)
			}
			if sub := readCgroupFile(t, root, job, "cgroup.subtree_control"); ctl == "" {
				t.Logf("%s offers no controller to enable: only the moves are tested", root)
			} else if sub != ctl {
				t.Errorf("the job's subtree_control is %q, want %s enabled for the containers", sub, ctl)
			}
			if tc.stale {
				stale := strings.Replace(placed[0].leaf, strconv.Itoa(pids[0]), "4194305", 1) // above pid_max: never alive
				if err := os.Mkdir(filepath.Join(root, stale), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			alive := slices.Clone(pids[:])
			if tc.dies >= 0 {
				killChild(t, pids[tc.dies])
				alive = slices.Delete(alive, tc.dies, tc.dies+1)
			}
			for n, i := range tc.leave {
				placed[i].Restore()
				if _, err := os.Stat(filepath.Join(root, placed[i].leaf)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("dockless %d left its leaf %s (%v)", i, placed[i].leaf, err)
				}
				if n == len(tc.leave)-1 {
					break
				}
				heir := placed[tc.leave[n+1]].leaf
				for _, pid := range []int{pids[i], script} {
					if got := cgroupOf(t, pid); got != heir {
						t.Errorf("after dockless %d left, process %d is in %s, want the leaf of the dockless still there (%s)", i, pid, got, heir)
					}
				}
				if ctl != "" && !strings.Contains(readCgroupFile(t, root, job, "cgroup.subtree_control"), ctl) {
					t.Errorf("dockless %d disabled %s while another's container may need it", i, ctl)
				}
			}
			for _, pid := range alive {
				if got := cgroupOf(t, pid); got != job {
					t.Errorf("process %d is in %s after the last dockless left, want the job cgroup %s", pid, got, job)
				}
			}
			if sub := readCgroupFile(t, root, job, "cgroup.subtree_control"); sub != "" {
				t.Errorf("the job's subtree_control is %q after the last dockless left, want it as it was (empty)", sub)
			}
			entries, _ := os.ReadDir(filepath.Join(root, job))
			for _, e := range entries {
				if e.IsDir() {
					t.Errorf("left in the job cgroup: %s", e.Name())
				}
			}
			if names := xattrs(t, filepath.Join(root, job)); strings.Contains(names, "dockless") {
				t.Errorf("xattrs left on the job cgroup: %s", names)
			}
		})
	}
}

// killChild ends the process pid, a child of the test, and waits until it
// left its cgroup.
func killChild(t *testing.T, pid int) {
	t.Helper()
	var ws unix.WaitStatus
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
}

// unifiedJob makes a job cgroup on this machine's cgroup2 mount (the
// unified hierarchy of a hybrid host, or the whole of a v2 one) holding
// three processes: two stand for dockless, one for the job's script. ctl
// is a controller the job can give its children ("" if the mount has none
// free). Cleanup ends the processes and removes what is left.
func unifiedJob(t *testing.T) (root, job, ctl string, pids [3]int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("moves processes between cgroups: needs root")
	}
	for _, m := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		var st unix.Statfs_t
		if unix.Statfs(m, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			root = m
			break
		}
	}
	if root == "" {
		t.Skip("no cgroup2 mount")
	}
	if slices.Contains(strings.Fields(readCgroupFile(t, root, "/", "cgroup.controllers")), "hugetlb") {
		ctl = "hugetlb"
		if !strings.Contains(readCgroupFile(t, root, "/", "cgroup.subtree_control"), ctl) {
			writeCgroupFile(t, root, "/", "cgroup.subtree_control", "+"+ctl)
			// (last: no descendant may use it then)
			t.Cleanup(func() { _ = os.WriteFile(filepath.Join(root, "cgroup.subtree_control"), []byte("-"+ctl), 0o644) })
		}
	}
	top := fmt.Sprintf("/dockless-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	job = top + "/job"
	if err := os.MkdirAll(filepath.Join(root, job), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeCgroupTree(filepath.Join(root, top)) })
	if ctl != "" {
		writeCgroupFile(t, root, top, "cgroup.subtree_control", "+"+ctl)
	}
	for i := range pids {
		cmd := exec.Command("sleep", "600")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		pids[i] = cmd.Process.Pid
		writeCgroupFile(t, root, job, "cgroup.procs", strconv.Itoa(pids[i]))
	}
	return root, job, ctl, pids
}

// removeCgroupTree removes a cgroup and its descendants, deepest first,
// once their processes are gone (they die in the cleanups before).
func removeCgroupTree(dir string) {
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		for range 100 {
			if err := os.Remove(dirs[i]); !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(10 * time.Millisecond) // a killed process leaves its cgroup as it exits
		}
	}
}

func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	cg, err := ownUnifiedCgroup(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	return cg
}

func readCgroupFile(t *testing.T, root, cg, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, cg, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func writeCgroupFile(t *testing.T, root, cg, file, value string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, cg, file), []byte(value), 0o644); err != nil {
		t.Fatalf("%s/%s: %v", cg, file, err)
	}
}

// xattrs lists the names of a file's extended attributes.
func xattrs(t *testing.T, file string) string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Listxattr(file, buf)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(buf[:n]), "\x00", " ")
}

func TestOwnUnifiedCgroup_ReadsTheV2Line(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cgroup")
	if err := os.WriteFile(f, []byte("12:memory:/x\n0::/lsf/job.23870\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := ownUnifiedCgroup(f); err != nil || got != "/lsf/job.23870" {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestTolerate_DropsWhatBindsIgnoreAndFIFONumbers(t *testing.T) {
	s := &specs.Spec{
		Mounts: []specs.Mount{
			{Destination: "/a", Type: "bind", Source: "/etc", Options: []string{"rbind", "rshared", "mode=755", "size=1k", "ro"}},
			{Destination: "/b", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=755", "size=1k"}},
		},
		Linux: &specs.Linux{Devices: []specs.LinuxDevice{{Path: "/dev/fifo", Type: "p", Major: 8, Minor: 666}, {Path: "/dev/c", Type: "c", Major: 1, Minor: 3}}},
	}
	tolerate(s)
	if strings.Join(s.Mounts[0].Options, ",") != "rbind,rshared,ro" || strings.Join(s.Mounts[1].Options, ",") != "mode=755,size=1k" {
		t.Errorf("mount options: %v %v", s.Mounts[0].Options, s.Mounts[1].Options)
	}
	if d := s.Linux.Devices; d[0].Major != 0 || d[0].Minor != 0 || d[1].Minor != 3 {
		t.Errorf("devices: %+v", d)
	}
}
