package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrNotExist means the container has no libcontainer state (runc's words,
// which containerd's shim looks for).
var ErrNotExist = errors.New("container does not exist")

func load(root, id string) (*libcontainer.Container, error) {
	c, err := libcontainer.Load(root, id)
	if errors.Is(err, libcontainer.ErrNotExist) || errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotExist, id)
	}
	return c, err
}

// Signal sends sig to the container's init.
func Signal(root, id string, sig unix.Signal) error {
	c, err := load(root, id)
	if err != nil {
		return err
	}
	return c.Signal(sig)
}

// Pause freezes every process of the container (cgroup freezer).
func Pause(root, id string) error {
	c, err := load(root, id)
	if err != nil {
		return err
	}
	return c.Pause()
}

// Resume thaws a paused container.
func Resume(root, id string) error {
	c, err := load(root, id)
	if err != nil {
		return err
	}
	return c.Resume()
}

// Status is a container's runtime state.
type Status struct {
	// State is "running", "paused", "created" or "stopped".
	State string
	// Pid is the host pid of the container's init.
	Pid int
	// Cgroups are the container's cgroup directories by controller.
	Cgroups map[string]string
}

// State reports a container's runtime state.
func State(root, id string) (*Status, error) {
	c, err := load(root, id)
	if err != nil {
		return nil, err
	}
	st, err := c.Status()
	if err != nil {
		return nil, err
	}
	s, err := c.State()
	if err != nil {
		return nil, err
	}
	return &Status{State: st.String(), Pid: s.InitProcessPid, Cgroups: s.CgroupPaths}, nil
}

// Destroy kills what is left of a container and removes its cgroup and
// libcontainer state (reaping after a dockless that died).
func Destroy(root, id string) error {
	c, err := load(root, id)
	if errors.Is(err, ErrNotExist) {
		return destroyUnstarted(root, id)
	}
	if err != nil {
		return err
	}
	_ = c.Signal(unix.SIGKILL)
	for i := 0; i < 100; i++ {
		if st, err := c.Status(); err != nil || st == libcontainer.Stopped {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return destroy(root, id, c)
}

// Exec runs p inside the running container id (its namespaces and cgroup)
// in the foreground and returns how it exited. relaying, if set, is called
// once the signals are caught, before anything starts, as Run calls it.
// started, if set, is called with the process's host pid once it runs.
func Exec(root, id string, p *specs.Process, stdio IO, relaying func() error, started func(pid int)) (Exit, error) {
	c, err := load(root, id)
	if err != nil {
		return Exit{}, err
	}
	if err := becomeSubreaper(); err != nil {
		return Exit{}, err
	}
	sigs := make(chan os.Signal, 128)
	signal.Notify(sigs, forwarded...)
	defer stopRelaying(sigs)
	if relaying != nil {
		if err := relaying(); err != nil {
			return Exit{}, err
		}
	}
	process, err := newProcess(p, false)
	if err != nil {
		return Exit{}, err
	}
	loaded, _, err := throughLoader(root, c, process)
	if err != nil {
		return Exit{}, err
	}
	defer loaded()
	link, err := setupIO(process, p.Terminal, stdio)
	if err != nil {
		return Exit{}, err
	}
	defer link.Close()
	if err := c.Run(process); err != nil {
		return Exit{}, startError(err)
	}
	if err := link.Attach(); err != nil {
		_ = process.Signal(unix.SIGKILL)
		_, _ = process.Wait()
		return Exit{}, err
	}
	if started != nil {
		if pid, err := process.Pid(); err == nil {
			started(pid)
		}
	}
	// An exec forwards every signal; suspending is the job's business.
	code, err := wait(process, sigs, link, func(s os.Signal) { _ = process.Signal(s) })
	return Exit{Code: code}, err
}
