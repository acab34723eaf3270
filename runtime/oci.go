package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	selinux "github.com/opencontainers/selinux/go-selinux"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// OCIOptions are the options of runc's create, run and exec (the OCI
// runtime command line, dockless-runc) beyond the process itself.
type OCIOptions struct {
	// ConsoleSocket is the path of a unix socket the pty master is sent
	// to, for a process with a terminal that is detached.
	ConsoleSocket string
	// PidfdSocket is the path of a unix socket a pidfd of the process is
	// sent to.
	PidfdSocket string
	// PidFile receives the process's host pid (an absolute path).
	PidFile string
	// PreserveFDs passes this process's descriptors 3 to 3+N-1 on to the
	// container's process.
	PreserveFDs int
	// Detach returns once the process runs (run -d, exec -d).
	Detach bool
	// Keep leaves a container that run waited for in place, stopped.
	Keep bool
	// NoSubreaper: run does not become the child subreaper.
	NoSubreaper  bool
	NoPivot      bool
	NoNewKeyring bool
	// SubCgroupPaths (exec) are the existing sub-cgroups of the container
	// to run the process in, by controller ("" for cgroup v2).
	SubCgroupPaths map[string]string
	// IgnorePaused (exec) allows exec in a paused container.
	IgnorePaused bool
	// Helpers (create, run) start the container as a job container's:
	// its seccomp filter compiled once per profile and loaded by
	// dockless-init's loader, its init the small one (JobHelpers). nil:
	// libcontainer's ways, the filter compiled in dockless's own init.
	Helpers *JobHelpers
}

// OCISeccompCache is the name of the compiled seccomp filters' directory
// in the OCI front end's root (JobHelpers.SeccompCache): a name no
// container ID can have (libcontainer allows letters, digits and "_+-."),
// which List leaves out.
const OCISeccompCache = "dockless:seccomp"

// OCIAction is what OCIRun does with the container it creates.
type OCIAction int

const (
	// OCICreate starts the init, which waits for Start (runc create).
	OCICreate OCIAction = iota
	// OCIRunning also runs the user's process (runc run).
	OCIRunning
)

// OCIRun creates container id from spec (its root path relative to the
// current directory, the bundle) as runc create and runc run do. It returns
// the exit status of a container it waited for (run without Detach) and 0
// otherwise. A detached process inherits this process's stdio, or sends its
// terminal to the console socket; one waited for has this process's stdio
// or a terminal relayed to it. The container is destroyed when this fails,
// and after a container waited for exits unless Keep.
func OCIRun(root, id string, spec *specs.Spec, act OCIAction, o OCIOptions) (status int, err error) {
	if spec.Process == nil {
		return -1, errors.New("process property must not be empty")
	}
	detach := o.Detach || act == OCICreate
	if err := checkTerminal(spec.Process.Terminal, detach, o.ConsoleSocket); err != nil {
		return -1, err
	}
	cfg, err := convert(id, spec, o.NoPivot, o.NoNewKeyring)
	if err != nil {
		return -1, err
	}
	hooks := takeHooks(cfg)
	cfg.Rlimits, _ = takeLateRlimits(cfg.Rlimits)
	filter := o.Helpers.prepare(cfg)
	var sigs chan os.Signal
	if !detach {
		sigs = ociSignals(!o.NoSubreaper)
		defer signal.Stop(sigs)
	}
	container, err := libcontainer.Create(root, id, cfg)
	if err != nil {
		return -1, err
	}
	defer func() {
		if err != nil && !o.Keep {
			_ = destroy(root, id, container)
		}
	}()
	if err := saveCgroupPaths(root, id, cfg.Cgroups); err != nil {
		return -1, err
	}
	if err := saveHooks(root, id, hooks); err != nil {
		return -1, err
	}
	if err := saveFilter(root, id, filter); err != nil {
		return -1, err
	}
	p, err := newOCIProcess(spec.Process, true, o)
	if err != nil {
		return -1, err
	}
	defer p.close()
	release, through, err := o.Helpers.startInit(root, container, p.process)
	if err != nil {
		return -1, err
	}
	p.loader = through
	err = p.start(container, spec.Process, detach, o.ConsoleSocket, act == OCIRunning)
	release()
	if err != nil {
		return -1, err
	}
	if act == OCIRunning {
		if err := runPoststart(container, hooks); err != nil {
			p.terminate()
			return -1, err
		}
	}
	if detach {
		return 0, nil
	}
	status, err = p.wait(sigs)
	if err == nil && !o.Keep {
		err = destroy(root, id, container)
	}
	return status, err
}

// OCIExec runs p in container id as runc exec does: it returns the
// process's exit status, or 0 once it runs with Detach.
func OCIExec(root, id string, p *specs.Process, o OCIOptions) (int, error) {
	c, err := load(root, id)
	if err != nil {
		return -1, err
	}
	st, err := c.Status()
	if err != nil {
		return -1, err
	}
	switch {
	case st == libcontainer.Stopped:
		return -1, errors.New("cannot exec in a stopped container")
	case st == libcontainer.Paused && !o.IgnorePaused:
		return -1, errors.New("cannot exec in a paused container (use --ignore-paused to override)")
	}
	if err := checkTerminal(p.Terminal, o.Detach, o.ConsoleSocket); err != nil {
		return -1, err
	}
	var sigs chan os.Signal
	if !o.Detach {
		// nsexec clones the process as this one's child (CLONE_PARENT).
		sigs = ociSignals(false)
		defer signal.Stop(sigs)
	}
	op, err := newOCIProcess(p, false, o)
	if err != nil {
		return -1, err
	}
	defer op.close()
	op.process.SubCgroupPaths = o.SubCgroupPaths
	loaded, through, err := throughLoader(root, c, op.process)
	if err != nil {
		return -1, err
	}
	op.loader = through
	op.closers = append(op.closers, loaded)
	if err := op.start(c, p, o.Detach, o.ConsoleSocket, false); err != nil {
		return -1, err
	}
	if o.Detach {
		return 0, nil
	}
	return op.wait(sigs)
}

// checkTerminal is runc's check of a terminal against detaching and a
// console socket.
func checkTerminal(tty, detach bool, consoleSocket string) error {
	if detach && tty && consoleSocket == "" {
		return errors.New("cannot allocate tty if runc will detach without setting console socket")
	}
	if (!detach || !tty) && consoleSocket != "" {
		return errors.New("cannot use console socket if runc will not detach or allocate tty")
	}
	return nil
}

// ociSignals catches every signal, to forward to the container's process
// (see ociProcess.wait), first making this process the child subreaper.
func ociSignals(subreaper bool) chan os.Signal {
	if subreaper {
		if err := becomeSubreaper(); err != nil {
			logrus.Warn(err)
		}
	}
	sigs := make(chan os.Signal, 2048)
	signal.Notify(sigs)
	return sigs
}

// ociProcess is a container's process being started through the OCI
// interface and what it holds until it runs: its stdio link, the sockets
// its terminal and pidfd go to.
type ociProcess struct {
	process *libcontainer.Process
	link    stdioLink
	pidFile string
	closers []func()
	// loader: the process starts through the loader (throughLoader), so
	// libcontainer's init looks the loader up, not the command: start
	// looks the command up itself (lookPathIn).
	loader bool
}

// newOCIProcess converts p, with its log level, the preserved descriptors
// and the pidfd socket.
func newOCIProcess(p *specs.Process, init bool, o OCIOptions) (*ociProcess, error) {
	lp, err := newProcess(p, init)
	if err != nil {
		return nil, err
	}
	lp.LogLevel = ociLogLevel()
	op := &ociProcess{process: lp, pidFile: o.PidFile}
	for i := 3; i < 3+o.PreserveFDs; i++ {
		if _, err := unix.FcntlInt(uintptr(i), unix.F_GETFD, 0); err != nil {
			return nil, fmt.Errorf("unable to stat preserved-fd %d (of %d): %w", i-3, o.PreserveFDs, err)
		}
		lp.ExtraFiles = append(lp.ExtraFiles, os.NewFile(uintptr(i), "PreserveFD:"+strconv.Itoa(i)))
	}
	if o.PidfdSocket != "" {
		sock, err := dialSocket(o.PidfdSocket)
		if err != nil {
			return nil, err
		}
		lp.PidfdSocket = sock
		op.closers = append(op.closers, func() { sock.Close() })
	}
	return op, nil
}

// lookPathIn makes the check runc's init makes of p's command before it
// waits to be started (exec.LookPath: "so it is returned as a create time
// error"; the same before an exec), for a process the loader starts,
// whose init looks the loader up instead: the command as exec.LookPath
// finds it, from p's directory and along its PATH, in the container of
// init pid (through /proc/<pid>/root: the container's root and mounts).
// runc's init tests execute permission as the process's user; here the
// mode's x bits stand for it (a command only others may execute then
// fails in the loader, with status 126). The error is worded as runc's,
// for a new container's init (init) or an exec.
func lookPathIn(pid int, p *specs.Process, init bool) error {
	root, err := os.OpenFile(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer root.Close()
	name := p.Args[0]
	found := func(path string) error {
		if !filepath.IsAbs(path) {
			path = filepath.Join(p.Cwd, path)
		}
		fd, err := unix.Openat2(int(root.Fd()), path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFDIR:
			return unix.EISDIR
		case st.Mode&0o111 == 0:
			return fs.ErrPermission
		}
		return nil
	}
	var lookErr error
	if strings.Contains(name, "/") {
		if err := found(name); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
				err = &fs.PathError{Op: "stat", Path: name, Err: err}
			}
			lookErr = &exec.Error{Name: name, Err: err}
		}
	} else {
		lookErr = &exec.Error{Name: name, Err: exec.ErrNotFound}
		for _, dir := range filepath.SplitList(envPath(p.Env)) {
			if dir == "" {
				dir = "."
			}
			if found(filepath.Join(dir, name)) == nil {
				lookErr = nil
				break
			}
		}
	}
	switch {
	case lookErr == nil:
		return nil
	case init:
		return startError(fmt.Errorf("unable to start container process: error during container init: %w", lookErr))
	default:
		return startError(fmt.Errorf("unable to start container process: %w", lookErr))
	}
}

// envPath is the value of PATH in env ("" when unset), as the process's
// init has it.
func envPath(env []string) string {
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	return path
}

// ociLogLevel is the log level the container's init gets, as runc passes
// it: logrus's (Info, or Debug with --debug), so that the init's and
// nsexec's debug lines come through libcontainer's log pipe. The OCI
// interface's level is never below Info, which would read as jobLogLevel.
func ociLogLevel() string {
	return strconv.Itoa(int(max(logrus.GetLevel(), logrus.InfoLevel)))
}

// start connects the process's stdio and starts it in c: a new init
// (executing the user's process at once if exec is set) or a process added
// to a running container; then writes the pid file. A process started and
// not accounted for is killed.
func (op *ociProcess) start(c *libcontainer.Container, p *specs.Process, detach bool, consoleSocket string, exec bool) error {
	var err error
	if detach {
		op.link, err = detachedIO(op.process, p.Terminal, consoleSocket)
	} else {
		op.link, err = setupIO(op.process, p.Terminal, IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Direct: true, ClearONLCR: true})
	}
	if err != nil {
		return err
	}
	switch {
	case op.process.Init && op.loader:
		if err = startThenExec(c, op.process, false); err != nil {
			break
		}
		pid, _ := op.process.Pid()
		if err = lookPathIn(pid, p, true); err != nil {
			op.terminate()
			break
		}
		if exec {
			if err = c.Exec(); err != nil {
				err = startError(err)
			}
		}
	case op.process.Init:
		err = startThenExec(c, op.process, exec)
	case op.loader:
		var st *libcontainer.State
		if st, err = c.State(); err == nil {
			if err = lookPathIn(st.InitProcessPid, p, false); err == nil {
				err = c.Run(op.process)
			}
		}
	default:
		err = c.Run(op.process)
	}
	if err != nil {
		return err
	}
	if err := op.link.Attach(); err != nil {
		op.terminate()
		return err
	}
	if err := writePidFile(op.pidFile, op.process); err != nil {
		op.terminate()
		return err
	}
	return nil
}

// wait relays signals to the process until it exits (runc's forwarding:
// every signal but SIGCHLD, SIGWINCH and the Go runtime's SIGURG) and
// returns its exit status.
func (op *ociProcess) wait(sigs chan os.Signal) (int, error) {
	return wait(op.process, sigs, op.link, func(s os.Signal) {
		if s == unix.SIGURG {
			return
		}
		if err := op.process.Signal(s); err != nil {
			logrus.Error(err)
		}
	})
}

func (op *ociProcess) terminate() {
	_ = op.process.Signal(unix.SIGKILL)
	_, _ = op.process.Wait()
}

// close releases the stdio link and the sockets.
func (op *ociProcess) close() {
	if op.link != nil {
		op.link.Close()
	}
	for _, f := range op.closers {
		f()
	}
}

// detachedIO gives a detached process this process's stdio (it outlives
// any relay; the OCI interface is for root, see IO.Direct), or sends its
// terminal to the console socket.
func detachedIO(p *libcontainer.Process, tty bool, socket string) (stdioLink, error) {
	if !tty {
		p.Stdin, p.Stdout, p.Stderr = os.Stdin, os.Stdout, os.Stderr
		return direct{}, nil
	}
	sock, err := dialSocket(socket)
	if err != nil {
		return nil, err
	}
	p.ConsoleSocket = sock
	return consoleSocket{sock}, nil
}

// consoleSocket is the link of a detached process whose terminal goes to
// a console socket: nothing to copy, the connection to close.
type consoleSocket struct{ sock *os.File }

func (consoleSocket) Attach() error { return nil }
func (consoleSocket) Resize()       {}
func (consoleSocket) Wait()         {}
func (s consoleSocket) Close()      { s.sock.Close() }

// dialSocket connects to a unix socket a descriptor is to be sent to (the
// pty master, a pidfd) and returns the connection as a file.
func dialSocket(path string) (*os.File, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, fmt.Errorf("failed to dial %s: %w", path, err)
	}
	defer conn.Close()
	f, err := conn.(*net.UnixConn).File()
	if err != nil {
		return nil, fmt.Errorf("failed to dup socket %s: %w", path, err)
	}
	return f, nil
}

// writePidFile writes the process's pid to path atomically (a new
// temporary file renamed over it), as runc and containerd's shim do; ""
// writes nothing.
func writePidFile(path string, p *libcontainer.Process) error {
	if path == "" {
		return nil
	}
	pid, err := p.Pid()
	if err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path))
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_SYNC, 0o666)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(pid))
	f.Close()
	if err != nil {
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
	st, err := c.Status()
	if err != nil {
		return err
	}
	switch st {
	case libcontainer.Created:
	case libcontainer.Stopped:
		return errors.New("cannot start a container that has stopped")
	case libcontainer.Running:
		return errors.New("cannot start an already running container")
	default:
		return fmt.Errorf("cannot start a container in the %s state", st)
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

// Delete removes a stopped or created container as runc delete does;
// force kills a running one first. A container with no state is removed
// with what it left (its directory, cgroups and processes), and then, with
// force, is no error.
func Delete(root, id string, force bool) error {
	c, err := load(root, id)
	if errors.Is(err, ErrNotExist) {
		if e := destroyUnstarted(root, id); e != nil {
			fmt.Fprintf(os.Stderr, "remove %s: %v\n", filepath.Join(root, id), e)
		}
		if force {
			return nil
		}
	}
	if err != nil {
		return err
	}
	// Even a stopped container is killed when forced: without a pid
	// namespace of its own, processes may be left in its cgroup.
	if force {
		return kill(root, id, c)
	}
	st, err := c.Status()
	if err != nil {
		return err
	}
	switch st {
	case libcontainer.Stopped:
		return destroy(root, id, c)
	case libcontainer.Created:
		return kill(root, id, c)
	default:
		return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, st)
	}
}

// kill SIGKILLs the container, waits (up to 10 s) until its init is gone
// and destroys it.
func kill(root, id string, c *libcontainer.Container) error {
	_ = c.Signal(unix.SIGKILL)
	for range 100 {
		if err := c.Signal(unix.Signal(0)); err != nil {
			return destroy(root, id, c)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("container init still running")
}

// SignalAll sends sig to every process of the container; a container that
// is not running is no error.
func SignalAll(root, id string, sig unix.Signal) error {
	c, err := load(root, id)
	if err != nil {
		return err
	}
	pids, err := c.Processes()
	if err != nil {
		if st, e := c.Status(); e == nil && st == libcontainer.Stopped {
			return nil
		}
		return err
	}
	for _, p := range pids {
		_ = unix.Kill(p, sig)
	}
	return nil
}

// Processes lists the host pids of the container's processes.
func Processes(root, id string) ([]int, error) {
	c, err := load(root, id)
	if err != nil {
		return nil, err
	}
	return c.Processes()
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

// startThenExec starts the init of process without the late rlimits, sets
// them on it, then, if exec is set, lets it execute the user's process.
func startThenExec(container *libcontainer.Container, process *libcontainer.Process, exec bool) error {
	var late []configs.Rlimit
	process.Rlimits, late = takeLateRlimits(process.Rlimits)
	if err := container.Start(process); err != nil {
		return startError(err)
	}
	if pid, err := process.Pid(); err != nil {
		return err
	} else if err := setLateRlimits(pid, late); err != nil {
		return err
	}
	if !exec {
		return nil
	}
	if err := container.Exec(); err != nil {
		return startError(err)
	}
	return nil
}

// ValidateProcess is runc's check of a process from config.json or exec's
// --process.
func ValidateProcess(p *specs.Process) error {
	switch {
	case p == nil:
		return errors.New("process property must not be empty")
	case p.Cwd == "":
		return errors.New("Cwd property must not be empty")
	case !filepath.IsAbs(p.Cwd):
		return errors.New("Cwd must be an absolute path")
	case len(p.Args) == 0:
		return errors.New("args must not be empty")
	case p.SelinuxLabel != "" && !selinux.GetEnabled():
		return errors.New("selinux label is specified in config, but selinux is disabled or not supported")
	}
	return nil
}
