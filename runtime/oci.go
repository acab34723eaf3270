package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// DetachOptions shape a container or exec process that outlives the
// command that made it (the OCI runtime interface: runc's create and
// exec --detach).
type DetachOptions struct {
	// ConsoleSocket is the path of a unix socket the pty master is sent to
	// when the process has a terminal.
	ConsoleSocket string
	// PidFile receives the process's host pid.
	PidFile      string
	NoPivot      bool
	NoNewKeyring bool
}

// Create creates container id from spec (its root path relative to the
// current directory, the bundle) and starts its init, which waits for
// Start before it runs the user's process. The init inherits this
// process's stdio unless it has a terminal.
func Create(root, id string, spec *specs.Spec, o DetachOptions) (err error) {
	if spec.Process == nil {
		return errors.New("spec has no process")
	}
	cfg, err := convert(id, spec, o.NoPivot, o.NoNewKeyring)
	if err != nil {
		return err
	}
	hooks := takeHooks(cfg)
	cfg.Rlimits, _ = takeLateRlimits(cfg.Rlimits)
	container, err := libcontainer.Create(root, id, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = container.Destroy()
		}
	}()
	if err := saveHooks(root, id, hooks); err != nil {
		return err
	}
	process, err := newProcess(spec.Process, true)
	if err != nil {
		return err
	}
	var late []configs.Rlimit
	process.Rlimits, late = takeLateRlimits(process.Rlimits)
	closeSock, err := detachedIO(process, spec.Process.Terminal, o.ConsoleSocket)
	if err != nil {
		return err
	}
	defer closeSock()
	if err := container.Start(process); err != nil {
		return startError(err)
	}
	pid, err := process.Pid()
	if err != nil {
		return err
	}
	if err := setLateRlimits(pid, late); err != nil {
		return err
	}
	return WritePidFile(o.PidFile, pid)
}

// detachedIO gives a detached process this process's stdio (it outlives
// any relay; the OCI interface is for root, see IO.Direct), or sends its
// terminal to the console socket.
func detachedIO(p *libcontainer.Process, tty bool, socket string) (func(), error) {
	if !tty {
		if socket != "" {
			return nil, errConsoleWithoutTTY
		}
		p.Stdin, p.Stdout, p.Stderr = os.Stdin, os.Stdout, os.Stderr
		return func() {}, nil
	}
	if socket == "" {
		return nil, errors.New("a detached process with a terminal needs --console-socket")
	}
	sock, err := dialConsole(socket)
	if err != nil {
		return nil, err
	}
	p.ConsoleSocket = sock
	return func() { sock.Close() }, nil
}

// WritePidFile writes pid to path atomically (a temporary file renamed
// over it), as containerd's shim expects; "" writes nothing.
func WritePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Start runs the user's process of a created container, then its
// poststart hooks.
func Start(root, id string) error {
	c, err := load(root, id)
	if err != nil {
		return err
	}
	hooks, err := loadHooks(root, id)
	if err != nil {
		return err
	}
	if err := c.Exec(); err != nil {
		return err
	}
	return runPoststart(c, hooks)
}

// OCIState is the container's state as runtime-spec defines it.
func OCIState(root, id string) (*specs.State, error) {
	c, err := load(root, id)
	if err != nil {
		return nil, err
	}
	return c.OCIState()
}

// Delete removes a stopped (or, with force, any) container.
func Delete(root, id string, force bool) error {
	c, err := load(root, id)
	if err != nil {
		return err
	}
	st, err := c.Status()
	if err != nil {
		return err
	}
	switch {
	case st == libcontainer.Stopped:
		return destroy(root, id, c)
	case st == libcontainer.Created, force:
		// A created container's init only waits for start: deleting it is
		// part of the OCI lifecycle, as is force-deleting a running one.
		return Destroy(root, id)
	default:
		return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, st)
	}
}

// SignalAll sends sig to every process of the container.
func SignalAll(root, id string, sig unix.Signal) error {
	c, err := load(root, id)
	if err != nil {
		return err
	}
	pids, err := c.Processes()
	if err != nil {
		return err
	}
	for _, p := range pids {
		_ = unix.Kill(p, sig)
	}
	return nil
}

// ExecDetached starts p in the container and returns without waiting.
func ExecDetached(root, id string, p *specs.Process, o DetachOptions) error {
	c, err := load(root, id)
	if err != nil {
		return err
	}
	process, err := newProcess(p, false)
	if err != nil {
		return err
	}
	closeSock, err := detachedIO(process, p.Terminal, o.ConsoleSocket)
	if err != nil {
		return err
	}
	defer closeSock()
	if err := c.Run(process); err != nil {
		return startError(err)
	}
	pid, err := process.Pid()
	if err != nil {
		return err
	}
	return WritePidFile(o.PidFile, pid)
}

// Processes lists the host pids of the container's processes.
func Processes(root, id string) ([]int, error) {
	c, err := load(root, id)
	if err != nil {
		return nil, err
	}
	return c.Processes()
}

// List names the containers under root.
func List(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(root, e.Name(), "state.json")); err == nil {
				ids = append(ids, e.Name())
			}
		}
	}
	return ids, err
}

// Created is when the container's state was written.
func Created(root, id string) time.Time {
	c, err := load(root, id)
	if err != nil {
		return time.Time{}
	}
	s, err := c.State()
	if err != nil {
		return time.Time{}
	}
	return s.Created
}

// Update changes a running container's cgroup resources.
func Update(root, id string, r *specs.LinuxResources) error {
	c, err := load(root, id)
	if err != nil {
		return err
	}
	cfg := c.Config()
	res := cfg.Cgroups.Resources
	if res == nil {
		res = &cgroups.Resources{}
		cfg.Cgroups.Resources = res
	}
	if m := r.Memory; m != nil {
		setInt(&res.Memory, m.Limit)
		setInt(&res.MemoryReservation, m.Reservation)
		setInt(&res.MemorySwap, m.Swap)
	}
	if cpu := r.CPU; cpu != nil {
		setUint(&res.CpuShares, cpu.Shares)
		setInt(&res.CpuQuota, cpu.Quota)
		setUint(&res.CpuPeriod, cpu.Period)
		if cpu.Cpus != "" {
			res.CpusetCpus = cpu.Cpus
		}
		if cpu.Mems != "" {
			res.CpusetMems = cpu.Mems
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		res.PidsLimit = r.Pids.Limit
	}
	if r.BlockIO != nil && r.BlockIO.Weight != nil {
		res.BlkioWeight = *r.BlockIO.Weight
	}
	return c.Set(cfg)
}

func setInt(dst *int64, v *int64) {
	if v != nil {
		*dst = *v
	}
}

func setUint(dst *uint64, v *uint64) {
	if v != nil {
		*dst = *v
	}
}

// NotifyOOM returns a channel that receives when the container's memory
// limit triggers the OOM killer.
func NotifyOOM(root, id string) (<-chan struct{}, error) {
	c, err := load(root, id)
	if err != nil {
		return nil, err
	}
	return c.NotifyOOM()
}
