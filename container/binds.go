package container

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/dockless/dockless/spec"
	"golang.org/x/sys/unix"
)

// stagePaths gives each user's bind its staged path: a mount point in the
// container's state directory, which only root can reach.
func stagePaths(dir string, binds []spec.Bind) {
	n := 0
	for i := range binds {
		if binds[i].User {
			binds[i].Staged = filepath.Join(dir, "binds", strconv.Itoa(n))
			n++
		}
	}
}

// stageBinds mounts the checked handle of each user's bind at its staged
// path, so the runtime mounts exactly what was checked, and adds the
// generated /etc files and the image's volumes. Its cleanup unmounts everything staged, also what
// buildSpec stages later (assembleMounts).
func (l *launch) stageBinds() (func(), error) {
	cleanup := func() {
		for _, p := range l.staged {
			l.n.unmount(p)
		}
	}
	binds := slices.Clone(l.req.Mounts)
	stagePaths(l.dir, binds)
	for _, b := range binds {
		if !b.User {
			continue
		}
		if b.Checked == nil {
			return cleanup, fmt.Errorf("bind of %s at %s: its source was never checked with your rights", b.Source, b.Destination)
		}
		if err := l.n.stage(b.Checked, b.Staged); err != nil {
			return cleanup, err
		}
		l.staged = append(l.staged, b.Staged)
	}
	l.binds = append(append(binds, etcBinds(l.dir, l.opts.Etc)...), l.volumes...)
	return cleanup, nil
}

// stage bind-mounts the open file or directory f (recursively, private
// propagation) at target, a new path in a root-only directory.
func (n *Node) stage(f *os.File, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		err = os.Mkdir(target, 0o700)
	} else {
		err = os.WriteFile(target, nil, 0o600)
	}
	if err != nil {
		return err
	}
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mounting %s: %w", f.Name(), err)
	}
	if err := unix.Mount("", target, "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		n.unmount(target)
		return err
	}
	return nil
}
