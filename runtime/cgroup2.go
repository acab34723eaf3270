package runtime

import (
	"bufio"
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
)

// unifiedMount is where the cgroup v2 hierarchy is mounted.
const unifiedMount = "/sys/fs/cgroup"

// v2Placement puts a container below the cgroup dockless was started in
// (LSF's job cgroup) on a cgroup v2 host, where libcontainer would put a
// relative cgroupsPath beside it instead. Cgroup v2 lets a cgroup either
// hold processes or hand controllers to children, so dockless moves itself
// into a leaf of the job cgroup (with the job's other processes, if any:
// they stay inside the job's subtree, where LSF accounts them), enables the
// job's controllers for its children and gives the container an absolute
// path next to that leaf. Restore undoes all of it once the container is
// gone.
type v2Placement struct {
	root     string // the cgroup2 mount
	job      string // the job cgroup, relative to root ("/lsf/job.23870")
	leaf     string // the leaf dockless moved into
	enabled  []string
	original string // the job's subtree_control before
}

// placeV2 rewrites spec's relative cgroupsPath as an absolute path below
// the job cgroup; on cgroup v1 hosts or for absolute paths it does nothing
// (v1 keeps relative paths below dockless's own cgroup).
func placeV2(spec *specs.Spec) (*v2Placement, error) {
	if spec.Linux == nil || spec.Linux.CgroupsPath == "" || path.IsAbs(spec.Linux.CgroupsPath) || !cgroups.IsCgroup2UnifiedMode() {
		return nil, nil
	}
	own, err := ownUnifiedCgroup("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	p, err := placeIn(unifiedMount, own, os.Getpid())
	if err != nil {
		return nil, err
	}
	spec.Linux.CgroupsPath = path.Join(p.job, spec.Linux.CgroupsPath)
	return p, nil
}

// placeIn moves pid into a leaf of job and enables job's controllers for
// its children.
func placeIn(root, job string, pid int) (*v2Placement, error) {
	p := &v2Placement{root: root, job: job, leaf: path.Join(job, "dockless-"+strconv.Itoa(pid))}
	jobDir := filepath.Join(root, job)
	sub, err := os.ReadFile(filepath.Join(jobDir, "cgroup.subtree_control"))
	if err != nil {
		return nil, fmt.Errorf("cgroup v2: reading %s: %w", jobDir, err)
	}
	p.original = strings.TrimSpace(string(sub))
	if err := os.Mkdir(filepath.Join(root, p.leaf), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("cgroup v2: creating %s: %w", p.leaf, err)
	}
	if err := os.WriteFile(filepath.Join(root, p.leaf, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return nil, fmt.Errorf("cgroup v2: moving dockless into %s: %w", p.leaf, err)
	}
	// Controllers can be handed to children only from a cgroup without
	// processes: the job's other processes join the leaf.
	if procs, err := os.ReadFile(filepath.Join(jobDir, "cgroup.procs")); err == nil {
		for _, other := range strings.Fields(string(procs)) {
			_ = os.WriteFile(filepath.Join(root, p.leaf, "cgroup.procs"), []byte(other), 0o644)
		}
	}
	avail, err := os.ReadFile(filepath.Join(jobDir, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	have := strings.Fields(p.original)
	for _, c := range strings.Fields(string(avail)) {
		if slices.Contains(have, c) {
			continue
		}
		if err := os.WriteFile(filepath.Join(jobDir, "cgroup.subtree_control"), []byte("+"+c), 0o644); err != nil {
			return p, fmt.Errorf("cgroup v2: enabling %s for the children of %s (are other processes in the job cgroup?): %w", c, job, err)
		}
		p.enabled = append(p.enabled, c)
	}
	return p, nil
}

// Restore gives the job cgroup back as it was: the controllers dockless
// enabled disabled again, dockless back in the job cgroup, its leaf gone.
// Another dockless still using the job cgroup keeps it as it is.
func (p *v2Placement) Restore() {
	if p == nil {
		return
	}
	jobDir := filepath.Join(p.root, p.job)
	entries, _ := os.ReadDir(jobDir)
	for _, e := range entries {
		if e.IsDir() && filepath.Join(p.job, e.Name()) != p.leaf {
			return // a sibling (another container or dockless) still needs the controllers
		}
	}
	for i := len(p.enabled) - 1; i >= 0; i-- {
		_ = os.WriteFile(filepath.Join(jobDir, "cgroup.subtree_control"), []byte("-"+p.enabled[i]), 0o644)
	}
	// Every process of the leaf (dockless and the job's others) goes back.
	procs, _ := os.ReadFile(filepath.Join(p.root, p.leaf, "cgroup.procs"))
	for _, pid := range strings.Fields(string(procs)) {
		_ = os.WriteFile(filepath.Join(jobDir, "cgroup.procs"), []byte(pid), 0o644)
	}
	_ = os.Remove(filepath.Join(p.root, p.leaf))
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
