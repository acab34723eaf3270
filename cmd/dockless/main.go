package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/runtime"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes docker gives its own failures.
const (
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

func main() {
	if runtime.IsInit() {
		runtime.Init()
		return
	}
	// containerd's packages log through logrus; dockless reports its own
	// errors, so only theirs that are errors get through (--debug: all).
	logrus.SetLevel(logrus.ErrorLevel)
	// Who is asking must be read before a setuid-root dockless becomes
	// fully root.
	if filepath.Base(os.Args[0]) == ociName {
		// A setuid-root dockless must not hand the OCI interface (which
		// takes any config.json) to anyone but root.
		if os.Getuid() != 0 {
			fmt.Fprintf(os.Stderr, "%s: the OCI runtime interface is for root (containerd, the OCI tools); use dockless run\n", ociName)
			os.Exit(1)
		}
		os.Exit(runOCI(os.Args))
	}
	caller, err := policy.CurrentCaller()
	if err == nil {
		caller.Rlimits = runtime.CallerRlimits()
		err = policy.BecomeRoot()
	}
	if err != nil {
		os.Exit(exitCode(err, os.Stderr))
	}
	// Code that holds the store's locks logs through containerd's logrus:
	// a relay, so that it never waits for the caller's terminal or pipe.
	logs := images.NewRelay(os.Stderr)
	logrus.SetOutput(logs)
	signals := newSignalGuard()
	err = signals.explain(newApp(caller, signals).RunContext(signals.ctx, os.Args))
	logs.Close()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err (if it is an error worth a line) and maps it to the
// process exit code.
func exitCode(err error, stderr *os.File) int {
	if err == nil {
		return 0
	}
	var status exitStatus
	if errors.As(err, &status) {
		return status.code
	}
	fmt.Fprintf(stderr, "dockless: %v\n", err)
	var start *runtime.StartError
	if errors.As(err, &start) {
		return start.Code
	}
	return exitRuntimeError
}

// withoutHelpCommand drops urfave/cli's implicit "help" (alias "h")
// subcommand from every command: in `dockless rm h` and
// `dockless-runc state h`, h names a container (--help still shows help).
func withoutHelpCommand(cmds []*cli.Command) []*cli.Command {
	for _, c := range cmds {
		c.HideHelpCommand = true
		withoutHelpCommand(c.Subcommands)
	}
	return cmds
}

// newApp is dockless's command line for caller; signals, if set, is
// installed for every command but the OCI interface.
func newApp(caller *policy.Caller, signals *signalGuard) *cli.App {
	// -h and -v are docker's --hostname and --volume, not help and version.
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Usage: "show help"}
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	return &cli.App{
		Name:                      "dockless",
		Usage:                     "daemonless, docker-compatible containers for LSF jobs",
		Version:                   version,
		DisableSliceFlagSeparator: true,
		HideHelpCommand:           true,
		ExitErrHandler:            func(*cli.Context, error) {},
		OnUsageError:              onUsageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "policy", Value: policy.DefaultPath, Usage: "site policy file (root only)"},
			&cli.StringFlag{Name: "root", Value: images.DefaultRoot, Usage: "image store directory (root only; default from the policy)"},
			&cli.BoolFlag{Name: "debug", Usage: "log what containerd and libcontainer do"},
			&cli.StringFlag{Name: "containerd-address", Usage: "keep images in this containerd daemon instead of the in-process store (root only; default from the policy)"},
			&cli.StringFlag{Name: "state", Value: "/run/dockless", Usage: "runtime state directory (root only; default from the policy)"},
		},
		Before: func(c *cli.Context) error {
			if c.Bool("debug") {
				logrus.SetLevel(logrus.DebugLevel)
			}
			if signals != nil && c.Args().First() != "oci" {
				signals.install()
			}
			return setupNode(c, caller, signals)
		},
		Commands: withoutHelpCommand([]*cli.Command{
			runCommand(),
			lsfCommand(),
			execCommand(),
			psCommand(),
			inspectCommand(),
			killCommand(),
			stopCommand(),
			rmCommand(),
			pauseCommand(),
			unpauseCommand(),
			statsCommand(),
			waitCommand(),
			systemCommand(),
			ociCommand(),
			loginCommand(),
			imageCommand(),
			logoutCommand(),
			pullCommand(),
			imagesCommand(),
			rmiCommand(),
		}),
	}
}
