package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dockless/dockless/container"
	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/lsf"
	"github.com/dockless/dockless/oci"
	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/runtime"
	_ "github.com/dockless/dockless/runtime/hugeheap" // the heap's first chunk in huge pages: fewer faults at every start
	_ "github.com/dockless/dockless/runtime/initexec" // libcontainer's nsexec, and the small init's entry
	"github.com/sirupsen/logrus"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes docker gives its own failures.
const (
	exitFailure      = 1
	exitRuntimeError = 125
	exitCannotInvoke = 126
	exitNotFound     = 127
)

// exitStatus carries a container's exit status out of an action.
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// usageError is a flag or argument the caller got wrong.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// failure is an error of the command line that docker's client reports
// with exit status 1 rather than 125 (a missing argument, stdin not a
// terminal for -it).
type failure struct{ err error }

func (e failure) Error() string { return e.err.Error() }
func (e failure) Unwrap() error { return e.err }

func failuref(format string, a ...any) error { return failure{fmt.Errorf(format, a...)} }

func main() {
	if runtime.IsSeccompCompile() {
		runtime.SeccompCompile()
	}
	if runtime.IsInit() {
		runtime.Init()
		return
	}
	holdCollection(startHold, startHeapLimit)
	oci.Version = version // dockless-runc's and dockless oci's
	// Who is asking must be read before a setuid-root dockless becomes
	// fully root.
	if filepath.Base(os.Args[0]) == oci.Name {
		// A setuid-root dockless must not hand the OCI interface (which
		// takes any config.json) to anyone but root.
		if os.Getuid() != 0 {
			fmt.Fprintf(os.Stderr, "%s: the OCI runtime interface is for root (containerd, the OCI tools); use dockless run\n", oci.Name)
			os.Exit(1)
		}
		os.Exit(oci.Run(os.Args, ociHelpers))
	}
	caller, err := policy.CurrentCaller()
	if err == nil {
		caller.Rlimits = runtime.CallerRlimits()
		err = policy.BecomeRoot()
	}
	if err != nil {
		os.Exit(exitCode(err, os.Stderr))
	}
	// dockless's log lines and containerd's packages' (logrus's standard
	// logger, errors only unless --debug) share the seed wrapper's format
	// and one relay to stderr, so that code holding the store's locks never
	// waits for the caller's terminal or pipe.
	logs := images.NewRelay(os.Stderr)
	logrus.SetOutput(logs)
	logrus.SetFormatter(lsf.LogFormatter{})
	logrus.SetLevel(logrus.ErrorLevel)
	signals := newSignalGuard()
	app := newApp(caller, signals, logs)
	err = signals.explain(app.RunContext(signals.ctx, splitAttached(app, os.Args)))
	logs.Close()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err (if it is an error worth a line) in docker's words
// and maps it to the process exit code. It is the one place where errors
// become messages and codes.
func exitCode(err error, stderr *os.File) int {
	if err == nil {
		return 0
	}
	var status exitStatus
	if errors.As(err, &status) {
		return status.code
	}
	fmt.Fprintf(stderr, "dockless: %v\n", dockerWords(err))
	var start *runtime.StartError
	if errors.As(err, &start) {
		return start.Code
	}
	if errors.As(err, new(failure)) {
		return exitFailure
	}
	return exitRuntimeError
}

// dockerWords says the lifecycle's typed errors the way docker does.
func dockerWords(err error) error {
	var (
		inUse   *container.NameInUseError
		cidfile *container.CIDFileExistsError
		running *container.NotStoppedError
	)
	switch {
	case errors.As(err, &inUse):
		return fmt.Errorf("conflict: the container name %q is already in use: choose another --name", inUse.Name)
	case errors.As(err, &cidfile):
		return fmt.Errorf("Container ID file found, make sure the other container isn't running or delete %s", cidfile.Path)
	case errors.As(err, &running):
		return fmt.Errorf("you cannot remove a %s container %s: stop the container before removing or use -f", running.State, running.ID[:12])
	}
	return err
}
