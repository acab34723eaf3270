package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dockless/dockless/runtime"
	"golang.org/x/sys/unix"
)

// record is what dockless keeps about a container while it exists:
// <state>/containers/<id>/record.json, written before anything of the
// container is created and removed last, so that a dockless that died at
// any phase can be cleaned up after (reap).
type record struct {
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
}

func containersDir(state string) string { return filepath.Join(state, "containers") }
func recordPath(state, id string) string {
	return filepath.Join(containersDir(state), id, "record.json")
}
func exitPath(state, id string) string { return filepath.Join(state, "exits", id) }

func writeRecord(state string, r *record) error {
	b, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return err
	}
	p := recordPath(state, r.ID)
	if err := os.WriteFile(p+".tmp", b, 0o600); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

func readRecord(state, id string) (*record, error) {
	b, err := os.ReadFile(recordPath(state, id))
	if err != nil {
		return nil, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("container %s: bad record: %w", id, err)
	}
	return &r, nil
}

// records lists the containers of the node the caller may see: their own,
// or all for root and trusted callers.
func records(n *node) ([]*record, error) {
	entries, err := os.ReadDir(containersDir(n.state))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*record
	for _, e := range entries {
		r, err := readRecord(n.state, e.Name())
		if err != nil {
			continue // being created or removed
		}
		if n.policy.Trusted(n.caller) || r.Owner == n.caller.UID {
			out = append(out, r)
		}
	}
	return out, nil
}

// errNoSuchContainer is docker's wording.
var errNoSuchContainer = errors.New("No such container")

// findContainer resolves a name, an ID or a unique ID prefix among the
// caller's containers.
func findContainer(n *node, ref string) (*record, error) {
	all, err := records(n)
	if err != nil {
		return nil, err
	}
	var match []*record
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
		return nil, fmt.Errorf("%w: %s", errNoSuchContainer, ref)
	default:
		return nil, fmt.Errorf("multiple containers match %q: give more of the ID", ref)
	}
}

// status names a container's state the way docker's STATUS column does.
func (r *record) status(n *node) (state string, st *runtime.Status) {
	st, err := runtime.State(runcRoot(n), r.ID)
	switch {
	case err == nil:
		return st.State, st
	case !r.launcherAlive():
		return "dead", nil
	default:
		return "created", nil
	}
}

func runcRoot(n *node) string { return filepath.Join(n.state, "runc") }

// launcherAlive reports whether the dockless that runs the container is
// still the same live process.
func (r *record) launcherAlive() bool {
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

// reap cleans up after every dockless that died with containers: their
// processes, cgroups, mounts, snapshots, name reservations, cidfiles and
// state. It runs at the start of every container and in `system prune`.
func reap(n *node) (int, error) {
	entries, err := os.ReadDir(containersDir(n.state))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	reaped := 0
	for _, e := range entries {
		r, err := readRecord(n.state, e.Name())
		if err != nil {
			// No record: state of a dockless from before records, or one
			// torn down half-way; only a directory older than a minute.
			if info, ierr := e.Info(); ierr == nil && time.Since(info.ModTime()) > time.Minute {
				r = &record{ID: e.Name()}
			} else {
				continue
			}
		}
		if r.launcherAlive() {
			continue
		}
		if err := reapOne(n, r); err != nil {
			return reaped, fmt.Errorf("cleaning up container %s: %w", r.ID, err)
		}
		reaped++
	}
	reapExits(n)
	return reaped, nil
}

func reapOne(n *node, r *record) error {
	dir := filepath.Join(containersDir(n.state), r.ID)
	if err := runtime.Destroy(runcRoot(n), r.ID); err != nil {
		return err
	}
	unmountUnder(dir)
	if err := n.store().Release(context.Background(), r.ID); err != nil {
		return err
	}
	if r.Name != "" {
		if b, err := os.ReadFile(filepath.Join(n.state, "names", r.Name)); err == nil && string(b) == r.ID {
			os.Remove(filepath.Join(n.state, "names", r.Name))
		}
		os.Remove(stateCIDFile(n, r.Name))
	}
	removeState(dir)
	return nil
}

// reapExits drops exit records nobody waited for within ten minutes.
func reapExits(n *node) {
	entries, _ := os.ReadDir(filepath.Join(n.state, "exits"))
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > 10*time.Minute {
			os.Remove(filepath.Join(n.state, "exits", e.Name()))
		}
	}
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return
	}
	for i := len(mounts) - 1; i >= 0; i-- {
		_ = unix.Unmount(mounts[i], unix.MNT_DETACH)
	}
}
