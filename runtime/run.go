package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	goruntime "runtime"
	"strings"
	"sync/atomic"

	_ "github.com/opencontainers/cgroups/devices" // device cgroup rules (v1 files, v2 eBPF)
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/dockless/dockless/spec"
	"golang.org/x/sys/unix"
)

// IO is what the container's process is connected to: dockless's own
// stdio, the caller's files.
type IO struct {
	// Stdin is nil when the process is to read nothing (/dev/null).
	Stdin          *os.File
	Stdout, Stderr *os.File
	// Direct gives the process Stdin, Stdout and Stderr themselves, as runc
	// does. Only for the OCI interface, whose caller is root (containerd
	// passes fifos it made). libcontainer's init fchowns its stdio to the
	// container's user: without Direct the process gets pipes dockless
	// makes and relays (or, with a terminal, the pty its init makes), so
	// that no file of the caller ever reaches it.
	Direct bool
	// SigProxy forwards the signals dockless receives to the container.
	// Without it a terminating signal destroys the container instead.
	SigProxy bool
	// ClearONLCR, with a terminal, clears the pty's output processing as
	// soon as the container's init sends the master, as runc does: the
	// container's LF reaches Stdout as LF. Without it the pty keeps ONLCR,
	// as docker's does (CR LF).
	ClearONLCR bool
}

// Exit is how the container's process ended.
type Exit struct {
	// Code is the exit status, 128+N when killed by signal N.
	Code int
	// OOMKilled: the kernel's OOM killer acted in the container's cgroup
	// because of its memory limit.
	OOMKilled bool
}

// StartError is a failure to start the container's process; Code is
// docker's exit code for it (126 cannot invoke, 127 not found, 125 other).
type StartError struct {
	Code int
	Err  error
}

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// forwarded are the signals relayed to the container's process; SIGTSTP
// and SIGCONT suspend and resume the whole container (LSF's bstop and
// bresume of interactive jobs).
var forwarded = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGWINCH, unix.SIGCHLD, unix.SIGTSTP, unix.SIGCONT, unix.SIGTTIN, unix.SIGTTOU}

// Run creates the container id under root from spec, runs its process in the
// foreground and returns how it exited. The container is destroyed before
// Run returns, whatever happened; if dockless itself is killed, the kernel
// kills the container's init (parent-death signal), and with it the
// container's pid namespace.
//
// relaying, if set, is the caller's own handling of the signals giving them
// over: Run calls it once it catches the signals it relays and before it
// changes anything (the cgroups it moves, the container), so that every
// signal is either the caller's, taken before then (relaying returns an
// error and Run starts nothing), or Run's to relay, and none falls between
// the two. started, if set, is called with the host pid of the container's
// init once it runs.
func Run(root, id string, spec *specs.Spec, h *JobHelpers, stdio IO, relaying func() error, started func(pid int)) (Exit, error) {
	if spec.Process == nil {
		return Exit{}, errors.New("spec has no process")
	}
	if err := becomeSubreaper(); err != nil {
		return Exit{}, err
	}
	// The parent-death signal of the init is tied to the thread that forks
	// it: keep that thread alive until the container is gone.
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	// Signals are caught before anything a terminating one would leave
	// behind is done, and before the process exists, so that no SIGCHLD of
	// a short-lived container is lost.
	sigs := make(chan os.Signal, 128)
	signal.Notify(sigs, forwarded...)
	defer stopRelaying(sigs)
	if relaying != nil {
		if err := relaying(); err != nil {
			return Exit{}, err
		}
	}
	placement, err := placeV2(spec)
	defer placement.Restore()
	if err != nil {
		return Exit{}, err
	}
	cfg, hooks, err := jobConfig(id, spec)
	if err != nil {
		return Exit{}, err
	}
	filter := h.prepare(cfg)
	container, err := libcontainer.Create(root, id, cfg)
	if err != nil {
		return Exit{}, fmt.Errorf("unable to create container: %w", err)
	}
	defer destroy(root, id, container) //nolint:errcheck // best effort on the way out; a failure leaves nothing we can fix here
	if err := saveCgroupPaths(root, id, cfg.Cgroups); err != nil {
		return Exit{}, err
	}
	if err := saveHooks(root, id, hooks); err != nil {
		return Exit{}, err
	}
	if err := saveFilter(root, id, filter); err != nil {
		return Exit{}, err
	}
	process, link, err := startJob(container, spec.Process, h, root, stdio)
	if err != nil {
		return Exit{}, err
	}
	defer link.Close()
	oom := watchOOM(container)
	if err := attachJob(container, process, link, hooks, started); err != nil {
		return Exit{}, err
	}
	code, err := wait(process, sigs, link, jobSignals(container, process, stdio.SigProxy))
	return Exit{Code: code, OOMKilled: oom.Load() && code == 128+int(unix.SIGKILL)}, err
}

// stopRelaying gives back the signals Run or Exec caught, on another
// goroutine: the Go runtime gives each one back with a round trip to its
// signal thread (0.6 to 1.2 ms in all on a 2-core VM), which the teardown
// of the container and the exit status need not wait for. Until then a
// signal also reaches sigs, which no one reads any more: the front end's
// own handling (cmd/dockless's signal guard) has it too.
func stopRelaying(sigs chan os.Signal) { go signal.Stop(sigs) }

// jobConfig is libcontainer's config of a foreground container: its init
// killed when dockless dies (parent-death signal), the poststart and
// poststop hooks taken out for dockless to run (see takeHooks), and the
// late rlimits left for startJob (see takeLateRlimits).
func jobConfig(id string, spec *specs.Spec) (*configs.Config, configs.Hooks, error) {
	cfg, err := convert(id, spec, false, true)
	if err != nil {
		return nil, nil, err
	}
	cfg.ParentDeathSignal = int(unix.SIGKILL)
	hooks := takeHooks(cfg)
	cfg.Rlimits, _ = takeLateRlimits(cfg.Rlimits)
	return cfg, hooks, nil
}

// startJob starts the container's init with p, connected as stdio says,
// sets the late rlimits once the init is set up, and lets it execute the
// user's process. The link is closed if that fails.
func startJob(container *libcontainer.Container, p *specs.Process, h *JobHelpers, root string, stdio IO) (*libcontainer.Process, stdioLink, error) {
	process, err := newProcess(p, true)
	if err != nil {
		return nil, nil, err
	}
	process.LogLevel = jobLogLevel
	release, _, err := h.startInit(root, container, process)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	link, err := setupIO(process, p.Terminal, stdio)
	if err != nil {
		return nil, nil, err
	}
	if err := startThenExec(container, process, true); err != nil {
		link.Close()
		return nil, nil, err
	}
	return process, link, nil
}

// watchOOM reports whether the OOM killer acted in the container's cgroup
// since the call (false if the kernel cannot tell).
func watchOOM(container *libcontainer.Container) *atomic.Bool {
	var oom atomic.Bool
	if ch, err := container.NotifyOOM(); err == nil {
		go func() {
			for range ch {
				oom.Store(true)
			}
		}()
	}
	return &oom
}

// attachJob connects the running user's process to its stdio, runs the
// poststart hooks and calls started, if set, with its host pid. If either
// fails, the process is killed and waited for.
func attachJob(container *libcontainer.Container, process *libcontainer.Process, link stdioLink, hooks configs.Hooks, started func(pid int)) error {
	if err := link.Attach(); err != nil {
		_ = process.Signal(unix.SIGKILL)
		_, _ = process.Wait()
		return err
	}
	if err := runPoststart(container, hooks); err != nil {
		_, _ = process.Wait()
		return err
	}
	if started != nil {
		if pid, err := process.Pid(); err == nil {
			started(pid)
		}
	}
	return nil
}

// convert turns a spec into libcontainer's config, tolerating what other
// tools write (see tolerate).
func convert(id string, spec *specs.Spec, noPivot, noNewKeyring bool) (*configs.Config, error) {
	for name := range spec.Annotations {
		if reservedAnnotation(name) {
			return nil, fmt.Errorf("the annotation %q is dockless's own: remove it from the config", name)
		}
	}
	tolerate(spec)
	cfg, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:   id,
		NoPivotRoot:  noPivot,
		NoNewKeyring: noNewKeyring,
		Spec:         spec,
	})
	if err != nil {
		return nil, fmt.Errorf("unable to convert the spec: %w", err)
	}
	return cfg, nil
}

func becomeSubreaper() error {
	// The container's init is double-forked: dockless must reap it.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("unable to become child subreaper: %w", err)
	}
	return nil
}

// stdioLink connects the container's process to dockless's stdio: a
// terminal, a relay, or (Direct) nothing to do.
type stdioLink interface {
	// Attach starts copying, once the process started.
	Attach() error
	// Resize gives a terminal the caller's terminal's size.
	Resize()
	// Wait, once the process exited, waits until its output is copied out.
	Wait()
	// Close stops copying and releases what the link holds.
	Close()
}

func setupIO(process *libcontainer.Process, tty bool, stdio IO) (stdioLink, error) {
	switch {
	case tty:
		return newTerminal(process, stdio)
	case stdio.Direct:
		process.Stdout, process.Stderr = stdio.Stdout, stdio.Stderr
		if stdio.Stdin != nil {
			process.Stdin = stdio.Stdin
		}
		return direct{}, nil
	}
	return newRelay(process, stdio)
}

// direct is the link of a process that has dockless's stdio itself.
type direct struct{}

func (direct) Attach() error { return nil }
func (direct) Resize()       {}
func (direct) Wait()         {}
func (direct) Close()        {}

// wait relays signals until the process exits and returns its status:
// SIGWINCH resizes the terminal, SIGCHLD reaps, every other signal goes to
// handle.
func wait(process *libcontainer.Process, sigs chan os.Signal, link stdioLink, handle func(os.Signal)) (int, error) {
	pid, err := process.Pid()
	if err != nil {
		return -1, err
	}
	link.Resize()
	for s := range sigs {
		switch s {
		case unix.SIGWINCH:
			link.Resize()
		case unix.SIGCHLD:
			if ws, done := reapFor(pid); done {
				_, _ = process.Wait()
				link.Wait()
				return exitStatus(ws), nil
			}
		default:
			handle(s)
		}
	}
	return -1, errors.New("signal channel closed")
}

// jobSignals is how a container's own dockless handles signals: SIGTSTP
// (and the terminal stops) suspend the whole container and then dockless,
// as a stopped job expects; SIGCONT resumes both; the rest are forwarded,
// or, without proxying, end the container (the job is going away).
func jobSignals(container *libcontainer.Container, process *libcontainer.Process, proxy bool) func(os.Signal) {
	return func(s os.Signal) {
		switch s {
		case unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
			_ = container.Pause()
			_ = unix.Kill(os.Getpid(), unix.SIGSTOP)
		case unix.SIGCONT:
			_ = container.Resume()
			_ = process.Signal(s)
		default:
			if proxy {
				_ = process.Signal(s)
				return
			}
			_ = container.Signal(unix.SIGKILL)
		}
	}
}

// reapFor reaps every exited child (the subreaper collects orphans too)
// and reports whether pid was among them, with its status.
func reapFor(pid int) (unix.WaitStatus, bool) {
	for {
		var ws unix.WaitStatus
		p, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err != nil || p <= 0 {
			return 0, false
		}
		if p == pid {
			return ws, true
		}
	}
}

func exitStatus(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// startError classifies an exec failure the way docker does.
func startError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return &StartError{Code: 127, Err: err}
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "exec format error"), strings.Contains(msg, "is a directory"):
		return &StartError{Code: 126, Err: err}
	default:
		return &StartError{Code: 125, Err: err}
	}
}

// newProcess is libcontainer's process of p (all of it: user, limits,
// capabilities, scheduler, I/O priority, CPU affinity, terminal size),
// the container's init if init is set.
func newProcess(p *specs.Process, init bool) (*libcontainer.Process, error) {
	nnp := p.NoNewPrivileges
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		Label:           p.SelinuxLabel,
		NoNewPrivileges: &nnp,
		AppArmorProfile: p.ApparmorProfile,
		Scheduler:       p.Scheduler,
		IOPriority:      p.IOPriority,
		Init:            init,
	}
	if p.ConsoleSize != nil {
		lp.ConsoleWidth, lp.ConsoleHeight = uint16(p.ConsoleSize.Width), uint16(p.ConsoleSize.Height)
	}
	aff, err := configs.ConvertCPUAffinity(p.ExecCPUAffinity)
	if err != nil {
		return nil, err
	}
	lp.CPUAffinity = aff
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	if c := p.Capabilities; c != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding: c.Bounding, Effective: c.Effective, Inheritable: c.Inheritable,
			Permitted: c.Permitted, Ambient: c.Ambient,
		}
	}
	for _, r := range p.Rlimits {
		t, ok := spec.RlimitResources[r.Type]
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q", r.Type)
		}
		lp.Rlimits = append(lp.Rlimits, configs.Rlimit{Type: t, Hard: r.Hard, Soft: r.Soft})
	}
	lp.Rlimits = withCallerRlimits(lp.Rlimits)
	affinity, err := configs.ConvertCPUAffinity(p.ExecCPUAffinity)
	if err != nil {
		return nil, err
	}
	lp.CPUAffinity = affinity
	return lp, nil
}
