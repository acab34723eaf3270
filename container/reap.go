package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/containerd/containerd/v2/core/mount"
	"github.com/dockless/dockless/runtime"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Reap cleans up after every dockless that died with containers: their
// processes, cgroups, mounts, snapshots, name reservations, cidfiles and
// state. It runs at the start of every container and in `system prune`,
// and returns how many it cleaned up. A container it cannot clean up is
// left for a later try and named in the error; the others are cleaned up
// all the same.
func (n *Node) Reap() (int, error) {
	n.reapExits()
	entries, err := os.ReadDir(n.containersDir())
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	reaped := 0
	var failed []error
	for _, e := range entries {
		r, err := n.readRecord(e.Name())
		if err != nil {
			// No record: state of a dockless from before records, or one
			// torn down half-way; only a directory older than a minute.
			if info, ierr := e.Info(); ierr == nil && time.Since(info.ModTime()) > time.Minute {
				r = &Record{ID: e.Name()}
			} else {
				continue
			}
		}
		if r.Shared != "" {
			removed, err := n.reapShared(r)
			if err != nil {
				failed = append(failed, fmt.Errorf("cleaning up job container %s: %w", r.ID, err))
			} else if removed {
				reaped++
			}
			continue
		}
		if r.launcherAlive() {
			continue
		}
		if err := n.remove(r); err != nil {
			failed = append(failed, fmt.Errorf("cleaning up container %s: %w", r.ID, err))
			continue
		}
		reaped++
	}
	return reaped, errors.Join(failed...)
}

// remove cleans up after the container r, whose dockless is gone.
func (n *Node) remove(r *Record) error {
	if err := runtime.Destroy(n.runcRoot(), r.ID); err != nil {
		return err
	}
	unmountUnder(n.dir(r.ID))
	if err := n.Images.Release(context.Background(), r.ID); err != nil {
		return err
	}
	if r.Name != "" {
		n.releaseName(r.Name, r.ID)
		os.Remove(n.stateCIDFile(r.Name))
	}
	n.removeState(n.dir(r.ID))
	return nil
}

// reapExits drops exit records nobody waited for within ten minutes. It
// looks at most once every exitSweepEvery (the time of exitsSwept): every
// job writes a record, so a node that starts many jobs has many, and a
// look at each at every start was most of a start's own time in a storm
// of starts.
func (n *Node) reapExits() {
	stamp := filepath.Join(n.State, exitsSwept)
	if fi, err := os.Stat(stamp); err == nil && time.Since(fi.ModTime()) < exitSweepEvery {
		return
	}
	_ = os.WriteFile(stamp, nil, 0o600)
	dir := filepath.Join(n.State, "exits")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > 10*time.Minute {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// exitsSwept is the file in the state directory whose time is the last
// look at the exit records, exitSweepEvery how often there is one.
const (
	exitsSwept     = "exits.swept"
	exitSweepEvery = time.Minute
)

// removeState deletes a container's state directory, but only once nothing
// is mounted below it: a staged bind still mounted there would otherwise
// let the removal reach into the user's files. The record goes last.
func (n *Node) removeState(dir string) {
	mounts, err := mountsUnder(dir)
	if err != nil || len(mounts) > 0 {
		n.Log.Errorf("%s still has %d mounts, left in place: %v", dir, len(mounts), err)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "record.json" {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	os.RemoveAll(dir)
}

// mountsUnder lists the mount points at or below dir, shortest first.
func mountsUnder(dir string) ([]string, error) {
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range infos {
		out = append(out, m.Mountpoint)
	}
	slices.SortFunc(out, func(a, b string) int { return len(a) - len(b) })
	return out, nil
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

// unmount detaches p and everything below it.
func (n *Node) unmount(p string) {
	if err := mount.UnmountAll(p, unix.MNT_DETACH); err != nil {
		n.Log.Errorf("unmounting %s: %v", p, err)
	}
}
