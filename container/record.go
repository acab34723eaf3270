package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Record is what dockless keeps about a container while it exists:
// <state>/containers/<id>/record.json, written before anything of the
// container is created and removed last, so that a dockless that died at
// any phase can be cleaned up after (Reap).
type Record struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Image   string    `json:"image"`
	Command []string  `json:"command"`
	Owner   uint32    `json:"owner"`
	Created time.Time `json:"created"`
	// Launcher is the pid of the dockless process running the container,
	// LauncherStart its start time (clock ticks), to tell a reused pid.
	Launcher      int    `json:"launcher"`
	LauncherStart uint64 `json:"launcher_start"`
	// InitPid is the host pid of the container's init once it runs.
	InitPid int `json:"init_pid,omitempty"`
	// Memory is the memory limit in bytes (0: none), for messages.
	Memory int64 `json:"memory,omitempty"`
	// Labels are docker's --label metadata.
	Labels map[string]string `json:"labels,omitempty"`
	// StopSignal and StopTimeout are what Stop sends first (0: SIGTERM)
	// and how long it then waits (nil: the stop command's grace; -1: no
	// SIGKILL).
	StopSignal  int  `json:"stop_signal,omitempty"`
	StopTimeout *int `json:"stop_timeout,omitempty"`
	// Shared is the key of a container that tasks join (shared.go): it
	// lives while a member holds its alive.lock, whoever made it.
	Shared string `json:"shared,omitempty"`
	// JobCgroups are its creator's cgroups (by hierarchy), which every
	// member must be in.
	JobCgroups map[string]string `json:"job_cgroups,omitempty"`
}

func (n *Node) recordPath(id string) string { return filepath.Join(n.dir(id), "record.json") }

func (n *Node) writeRecord(r *Record) error {
	b, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return err
	}
	return images.WriteWhole(n.recordPath(r.ID), b)
}

func (n *Node) readRecord(id string) (*Record, error) {
	b, err := os.ReadFile(n.recordPath(id))
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("container %s: bad record: %w", id, err)
	}
	return &r, nil
}

// Containers lists the containers of the node the caller may see: their
// own, or all for root and trusted callers.
func (n *Node) Containers() ([]*Record, error) {
	entries, err := os.ReadDir(n.containersDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, e := range entries {
		r, err := n.readRecord(e.Name())
		if err != nil {
			continue // being created or removed
		}
		if n.Policy.Trusted(n.Caller) || r.Owner == n.Caller.UID {
			out = append(out, r)
		}
	}
	return out, nil
}

// Find resolves a name, an ID or a unique ID prefix among the caller's
// containers.
func (n *Node) Find(ref string) (*Record, error) {
	all, err := n.Containers()
	if err != nil {
		return nil, err
	}
	var match []*Record
	for _, r := range all {
		switch {
		case r.Name == ref || r.ID == ref:
			return r, nil
		case strings.HasPrefix(r.ID, ref) && ref != "":
			match = append(match, r)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNoSuchContainer, ref)
	default:
		return nil, fmt.Errorf("multiple containers match %q: give more of the ID", ref)
	}
}

// Status names a container's state the way docker's STATUS column does,
// with the runtime's view of it while it runs.
func (n *Node) Status(r *Record) (string, *runtime.Status) {
	st, err := runtime.State(n.runcRoot(), r.ID)
	switch {
	case err == nil:
		return st.State, st
	case !r.launcherAlive():
		return "dead", nil
	default:
		return "created", nil
	}
}

// Config is the container's runtime spec as it was started.
func (n *Node) Config(r *Record) (*specs.Spec, error) {
	var s specs.Spec
	b, err := os.ReadFile(filepath.Join(n.dir(r.ID), "config.json"))
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err != nil || s.Process == nil {
		return nil, &NotRunningError{Name: r.Name}
	}
	return &s, nil
}

// Workdir is the container's working directory as the user gave it (the
// spec starts a process whose directory lies in a host bind through a link:
// pinWorkdir).
func Workdir(s *specs.Spec) string {
	if cwd, ok := s.Annotations[workdirAnnotation]; ok {
		return cwd
	}
	if s.Process == nil {
		return ""
	}
	return s.Process.Cwd
}

// launcherAlive reports whether the dockless that runs the container is
// still the same live process.
func (r *Record) launcherAlive() bool {
	if r.Launcher <= 0 {
		return false
	}
	start, err := processStart(r.Launcher)
	return err == nil && start == r.LauncherStart
}

// processStart reads a process's start time (field 22 of /proc/PID/stat).
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("bad stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, errors.New("bad stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}
