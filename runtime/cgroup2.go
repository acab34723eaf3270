package runtime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/cgroups"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

const (
	// unifiedMount is where the cgroup v2 hierarchy is mounted.
	unifiedMount = "/sys/fs/cgroup"
	// leafPrefix names the leaf of the job cgroup a dockless moves into,
	// <job>/dockless-leaf-<pid>, beside its container's <job>/dockless-<id12>.
	leafPrefix = "dockless-leaf-"
	// originalXattr keeps, on the job cgroup, its subtree_control as it
	// was before the first dockless of the job changed it.
	originalXattr = "trusted.dockless.subtree_control"
)

// v2Placement puts a container below the cgroup dockless was started in
// (LSF's job cgroup) on a cgroup v2 host, where libcontainer would put a
// relative cgroupsPath beside it instead. Cgroup v2 lets a cgroup either
// hold processes or hand controllers to children, so dockless moves itself
// into a leaf of the job cgroup (with the job's other processes, if any:
// they stay inside the job's subtree, where LSF accounts them), enables the
// job's controllers for its children and gives the container an absolute
// path next to that leaf. Restore undoes it once the container is gone.
//
// Several dockless of one job (a job script that runs containers side by
// side) take turns with a lock on the job cgroup. Each has its own leaf;
// the first records the job's subtree_control on the job cgroup
// (originalXattr); the last to leave restores that, moves every process
// back and removes the leaves of those that died.
type v2Placement struct {
	root string // the cgroup2 mount
	job  string // the job cgroup, relative to root ("/lsf/job.23870")
	leaf string // the leaf dockless moved into
}

// placeV2 rewrites spec's relative cgroupsPath as an absolute path below
// the job cgroup; on cgroup v1 hosts or for absolute paths it does nothing
// (v1 keeps relative paths below dockless's own cgroup). A placement it
// returns, with an error too, is to be restored.
func placeV2(spec *specs.Spec) (*v2Placement, error) {
	if spec.Linux == nil || spec.Linux.CgroupsPath == "" || path.IsAbs(spec.Linux.CgroupsPath) || !cgroups.IsCgroup2UnifiedMode() {
		return nil, nil
	}
	job, err := ownUnifiedCgroup("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(path.Base(job), leafPrefix) {
		job = path.Dir(job) // another dockless of the job moved this one into its leaf
	}
	p, err := placeIn(unifiedMount, job, os.Getpid())
	if err == nil {
		spec.Linux.CgroupsPath = path.Join(p.job, spec.Linux.CgroupsPath)
	}
	return p, err
}

// placeIn moves pid into a leaf of job, with the job's other processes,
// and enables job's controllers for its children. Once the leaf exists, it
// returns the placement also when a later step fails, for Restore to undo.
func placeIn(root, job string, pid int) (*v2Placement, error) {
	jobDir := filepath.Join(root, job)
	unlock, err := lockCgroup(jobDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	p := &v2Placement{root: root, job: job, leaf: path.Join(job, leafPrefix+strconv.Itoa(pid))}
	leafDir := filepath.Join(root, p.leaf)
	if err := os.Mkdir(leafDir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cgroup v2: creating %s: %w", p.leaf, err)
	}
	sub, err := os.ReadFile(filepath.Join(jobDir, "cgroup.subtree_control"))
	if err != nil {
		return p, fmt.Errorf("cgroup v2: reading %s: %w", jobDir, err)
	}
	if _, err := unix.Getxattr(jobDir, originalXattr, nil); errors.Is(err, unix.ENODATA) {
		err = unix.Setxattr(jobDir, originalXattr, bytes.TrimSpace(sub), 0)
		if err != nil {
			return p, fmt.Errorf("cgroup v2: recording the controllers of %s: %w", jobDir, err)
		}
	}
	if err := os.WriteFile(filepath.Join(leafDir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return p, fmt.Errorf("cgroup v2: moving dockless into %s: %w", p.leaf, err)
	}
	// Controllers can be handed to children only from a cgroup without
	// processes: the job's other processes join the leaf.
	moveProcesses(jobDir, leafDir)
	avail, err := os.ReadFile(filepath.Join(jobDir, "cgroup.controllers"))
	if err != nil {
		return p, fmt.Errorf("cgroup v2: reading %s: %w", jobDir, err)
	}
	have := strings.Fields(string(sub))
	for _, c := range strings.Fields(string(avail)) {
		if slices.Contains(have, c) {
			continue
		}
		if err := os.WriteFile(filepath.Join(jobDir, "cgroup.subtree_control"), []byte("+"+c), 0o644); err != nil {
			return p, fmt.Errorf("cgroup v2: enabling %s for the children of %s (are other processes in the job cgroup?): %w", c, job, err)
		}
	}
	return p, nil
}

// Restore leaves the job cgroup, once the container is gone. While another
// dockless of the job runs, its leaf takes this one's processes and the
// job keeps its controllers; the last one gives the job back as it was:
// the controllers the first enabled disabled, every process back in the
// job cgroup, no leaf left.
func (p *v2Placement) Restore() {
	if p == nil {
		return
	}
	jobDir, leafDir := filepath.Join(p.root, p.job), filepath.Join(p.root, p.leaf)
	unlock, err := lockCgroup(jobDir)
	if err != nil {
		return
	}
	defer unlock()
	if heir := p.liveLeaf(); heir != "" {
		moveProcesses(leafDir, heir)
		_ = os.Remove(leafDir)
		return
	}
	original := make([]byte, 4096)
	if n, err := unix.Getxattr(jobDir, originalXattr, original); err == nil {
		have := strings.Fields(string(original[:n]))
		sub, _ := os.ReadFile(filepath.Join(jobDir, "cgroup.subtree_control"))
		enabled := strings.Fields(string(sub))
		for i := len(enabled) - 1; i >= 0; i-- {
			if !slices.Contains(have, enabled[i]) {
				_ = os.WriteFile(filepath.Join(jobDir, "cgroup.subtree_control"), []byte("-"+enabled[i]), 0o644)
			}
		}
	}
	moveProcesses(leafDir, jobDir)
	if os.Remove(leafDir) == nil {
		_ = unix.Removexattr(jobDir, originalXattr)
	}
}

// liveLeaf is the leaf of another dockless of the job that still runs
// ("" if none): one that holds the dockless it is named after (each stays
// in its leaf until its Restore). The leaves of dockless that died are
// emptied into this one's leaf, whose processes they follow, and removed.
func (p *v2Placement) liveLeaf() string {
	live := ""
	entries, _ := os.ReadDir(filepath.Join(p.root, p.job))
	for _, e := range entries {
		name, dir := e.Name(), filepath.Join(p.root, p.job, e.Name())
		if !e.IsDir() || !strings.HasPrefix(name, leafPrefix) || path.Join(p.job, name) == p.leaf {
			continue
		}
		procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if slices.Contains(strings.Fields(string(procs)), strings.TrimPrefix(name, leafPrefix)) {
			if live == "" {
				live = dir
			}
			continue
		}
		moveProcesses(dir, filepath.Join(p.root, p.leaf))
		_ = os.Remove(dir)
	}
	return live
}

// moveProcesses moves every process of the cgroup from into to, as far as
// the kernel lets it.
func moveProcesses(from, to string) {
	procs, _ := os.ReadFile(filepath.Join(from, "cgroup.procs"))
	for _, pid := range strings.Fields(string(procs)) {
		_ = os.WriteFile(filepath.Join(to, "cgroup.procs"), []byte(pid), 0o644)
	}
}

// lockCgroup takes the lock the dockless of one job take turns with: an
// exclusive flock on the job cgroup's directory, released by unlock.
func lockCgroup(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cgroup v2: locking %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// ownUnifiedCgroup reads the "0::PATH" line of a /proc/PID/cgroup file.
func ownUnifiedCgroup(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "0::"); ok {
			return rest, nil
		}
	}
	return "", errors.New("cgroup v2: no unified cgroup in " + file)
}
