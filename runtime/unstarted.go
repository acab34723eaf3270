package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"
	"golang.org/x/sys/unix"
)

// cgroupsFile keeps, beside libcontainer's state, the cgroup paths of a
// container: libcontainer writes its state only once the container's init
// runs, and makes the cgroups before that, so a dockless killed in between
// leaves a state directory that Load cannot read and cgroups that nothing
// else names.
const cgroupsFile = "dockless-cgroups.json"

// saveCgroupPaths records where the container's cgroups are (resolved
// now: a relative path is below this process's own cgroup).
func saveCgroupPaths(root, id string, cg *cgroups.Cgroup) error {
	m, err := manager.New(cg)
	if err != nil {
		return err
	}
	b, err := json.Marshal(m.GetPaths())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, id, cgroupsFile), b, 0o600)
}

// destroyUnstarted removes what a container whose state libcontainer never
// wrote left: the processes in its cgroups, the cgroups, the state
// directory. Without a state directory there is nothing to do.
func destroyUnstarted(root, id string) error {
	dir := filepath.Join(root, id)
	b, err := os.ReadFile(filepath.Join(dir, cgroupsFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		var paths map[string]string
		if err := json.Unmarshal(b, &paths); err != nil {
			return fmt.Errorf("%s of container %s: %w", cgroupsFile, id, err)
		}
		m, err := manager.NewWithPaths(&cgroups.Cgroup{Resources: &cgroups.Resources{}}, paths)
		if err != nil {
			return err
		}
		if pids, err := m.GetAllPids(); err == nil {
			for _, pid := range pids {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		if err := m.Destroy(); err != nil {
			return fmt.Errorf("removing the cgroups of container %s: %w", id, err)
		}
	}
	return os.RemoveAll(dir)
}
