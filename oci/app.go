package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

// Name is the name under which the binary speaks only the OCI runtime
// command line (runc's), as containerd's runc shim and the OCI validation
// suite call it: `make install` links it to dockless.
const Name = "dockless-runc"

// defaultRoot is where the OCI containers' state is unless --root.
const defaultRoot = "/run/" + Name

// Version is the version the command line reports (set by cmd/dockless).
var Version = "dev"

// exitStatus carries a container's exit status out of an action.
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// ociError is a failure of the OCI command line with runc's exit code
// for it (255 for exec, 1 for the rest).
type ociError struct {
	code int
	err  error
}

func (e ociError) Error() string { return e.err.Error() }
func (e ociError) Unwrap() error { return e.err }

// Helpers are the helpers that start the containers of the OCI root as
// job containers are started (runtime.JobHelpers, OCIOptions.Helpers):
// dockless-init's loader, the small init, and a seccomp cache in the root
// (runtime.OCISeccompCache). They are found where the installation put
// them, which this package does not know: cmd/dockless does.
type Helpers func(root string) *runtime.JobHelpers

// helpersKey is where Run keeps its Helpers in the App's metadata.
const helpersKey = "dockless.helpers"

// Run runs the OCI command line on args (args[0] is the program's name)
// and returns the process exit code: the container's status for run and
// exec, runc's code for an error (see ociError), whose message goes to the
// log (--log, in --log-format: where containerd's shim reads it) and to
// stderr, as runc does. helpers (nil: none) start new containers.
func Run(args []string, helpers Helpers) int {
	// runc's logging until ociBefore reads the flags (dockless oci comes
	// with dockless's own).
	logrus.SetOutput(os.Stderr)
	logrus.SetFormatter(&logrus.TextFormatter{})
	app := App()
	app.Metadata = map[string]any{helpersKey: helpers}
	err := app.Run(reorderOCIArgs(app, args))
	var status exitStatus
	if err == nil {
		return 0
	}
	if errors.As(err, &status) {
		return status.code
	}
	logrus.Error(err)
	if out, ok := logrus.StandardLogger().Out.(*os.File); !ok || out.Fd() != os.Stderr.Fd() {
		fmt.Fprintln(os.Stderr, err)
	}
	var oe ociError
	if errors.As(err, &oe) {
		return oe.code
	}
	return 1
}

const ociUsage = `Open Container Initiative runtime

dockless-runc is runc's command line on dockless: the OCI runtime that
containerd's runc shim and the OCI tools call, running containers from
bundles with the libcontainer of runc %s that dockless embeds. It is for
root; users run containers with dockless run.

To start a new instance of a container:

    # ` + Name + ` run [ -b bundle ] <container-id>`

// App is runc's command line over dockless's runtime.
func App() *cli.App {
	help := &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"}
	return &cli.App{
		Name:            Name,
		Usage:           fmt.Sprintf(ociUsage, runtime.RuncVersion()),
		Version:         Version,
		HideHelp:        true,
		HideHelpCommand: true,
		// -v is runc's version text (printOCIVersion), not urfave/cli's.
		HideVersion:    true,
		ExitErrHandler: func(*cli.Context, error) {},
		// --env A=1,2 and --cgroup cpu,cpuacct:sub are one value each.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
			&cli.StringFlag{Name: "log", Usage: "set the log file to write runc logs to (default is '/dev/stderr')"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
			&cli.StringFlag{Name: "root", Value: defaultRoot, Usage: "root directory for storage of container state (this should be located in tmpfs)"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "not supported: dockless uses the cgroupfs driver"},
			&cli.StringFlag{Name: "criu", Hidden: true},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "not supported: the OCI interface runs as root"},
			&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version"},
			help,
		},
		Before: ociBefore,
		Commands: WithHelp(help, []*cli.Command{
			ociCheckpointCommand(), ociCreateCommand(), ociDeleteCommand(), ociEventsCommand(), ociExecCommand(),
			ociKillCommand(), ociListCommand(), ociPauseCommand(), ociPsCommand(), ociRestoreCommand(),
			ociResumeCommand(), ociRunCommand(), ociSpecCommand(), ociStartCommand(), ociStateCommand(),
			ociUpdateCommand(), ociFeaturesCommand(),
		}),
	}
}

// printOCIVersion is runc -v's text, which tools parse (containerd's
// go-runc reads "runc version X", "commit:", "spec:"): the version of
// runc whose libcontainer dockless embeds, then dockless's own.
func printOCIVersion(c *cli.Context) {
	w := c.App.Writer
	fmt.Fprintf(w, "runc version %s (%s, dockless %s)\n", runtime.RuncVersion(), Name, c.App.Version)
	fmt.Fprintln(w, "commit: dockless-"+c.App.Version)
	fmt.Fprintln(w, "spec:", specs.Version)
	fmt.Fprintln(w, "go:", goruntime.Version())
	if v := runtime.SeccompVersion(); v != "" {
		fmt.Fprintln(w, "libseccomp:", v)
	}
}

// ociBefore checks the global flags and sets up logging as runc does: Info
// (Debug with --debug), text or JSON, to stderr or the --log file.
func ociBefore(c *cli.Context) error {
	if c.Bool("version") {
		printOCIVersion(c)
		return exitStatus{0}
	}
	if c.IsSet("root") {
		root, err := filepath.Abs(c.String("root"))
		if err != nil {
			return err
		}
		if root == "/" {
			return errors.New("Option --root argument should not be set to /")
		}
		if err := c.Set("root", root); err != nil {
			return err
		}
	}
	logrus.SetLevel(logrus.InfoLevel)
	if c.Bool("debug") {
		logrus.SetLevel(logrus.DebugLevel)
	}
	switch f := c.String("log-format"); f {
	case "", "text":
		logrus.SetFormatter(&logrus.TextFormatter{})
	case "json":
		logrus.SetFormatter(&logrus.JSONFormatter{})
	default:
		return errors.New("invalid log-format: " + f)
	}
	logrus.SetOutput(os.Stderr)
	if p := c.String("log"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return err
		}
		logrus.SetOutput(f)
	}
	if c.Bool("systemd-cgroup") {
		return errors.New("--systemd-cgroup is not supported: dockless manages cgroups through cgroupfs")
	}
	if v := c.String("rootless"); v == "true" {
		return errors.New("--rootless=true is not supported")
	}
	return nil
}

// ociRoot is the state directory of OCI containers (the global --root).
func ociRoot(c *cli.Context) string { return c.String("root") }

// ociID is the container ID argument of most verbs.
func ociID(c *cli.Context) (string, error) {
	if id := c.Args().First(); id != "" {
		return id, nil
	}
	return "", errors.New("container id cannot be empty")
}

// soleID is the container ID of a command that takes it and nothing else.
func soleID(c *cli.Context) (string, error) {
	if err := checkArgs(c, 1, exactArgs); err != nil {
		return "", err
	}
	return ociID(c)
}

// Kinds of argument count checkArgs makes.
const (
	exactArgs = iota
	minArgs
	maxArgs
)

// checkArgs refuses a command given the wrong number of arguments as
// runc does: "Incorrect Usage.", the command's help, and an error.
func checkArgs(c *cli.Context, expected, kind int) error {
	n, name := c.NArg(), c.Command.Name
	var err error
	switch {
	case kind == exactArgs && n != expected:
		err = fmt.Errorf("%s: %q requires exactly %d argument(s)", os.Args[0], name, expected)
	case kind == minArgs && n < expected:
		err = fmt.Errorf("%s: %q requires a minimum of %d argument(s)", os.Args[0], name, expected)
	case kind == maxArgs && n > expected:
		err = fmt.Errorf("%s: %q requires a maximum of %d argument(s)", os.Args[0], name, expected)
	}
	if err != nil {
		fmt.Fprintf(c.App.Writer, "Incorrect Usage.\n\n")
		_ = cli.ShowCommandHelp(c, name)
	}
	return err
}

// ociNoReorder are the commands whose arguments after the container ID
// are the process's own (exec's command, ps's options), which runc does
// not reorder.
var ociNoReorder = map[string]bool{"exec": true, "ps": true}

// reorderOCIArgs moves a command's flags before its arguments, as runc's
// command line (urfave/cli v1) does: `update ID --memory 1G` sets the
// memory limit, where urfave/cli v2 would stop at the ID and leave the
// flag an argument.
func reorderOCIArgs(app *cli.App, args []string) []string {
	i := 1
	for i < len(args) && isOCIFlag(app.Flags, args[i]) {
		i++
		if takesValue(app.Flags, args[i-1]) && i < len(args) {
			i++
		}
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil || ociNoReorder[cmd.Name] {
		return args
	}
	return append(args[:i+1:i+1], reorderArgs(cmd.Flags, args[i+1:])...)
}

// reorderArgs is urfave/cli v1's: each flag (and the value that may follow
// it) first, then the other arguments; nothing after "--" moves.
func reorderArgs(flags []cli.Flag, args []string) []string {
	var flagArgs, rest []string
	valueNext := false
	for i, arg := range args {
		switch {
		case valueNext && !isOCIFlag(flags, arg):
			valueNext = false
			flagArgs = append(flagArgs, arg)
		case arg == "--":
			rest = append(append([]string{"--"}, rest...), args[i+1:]...)
			return append(flagArgs, rest...)
		case isOCIFlag(flags, arg):
			flagArgs = append(flagArgs, arg)
			valueNext = !strings.Contains(arg, "=")
		default:
			rest = append(rest, arg)
		}
	}
	return append(flagArgs, rest...)
}

// isOCIFlag reports whether arg is one of flags (-f, --flag, --flag=v).
func isOCIFlag(flags []cli.Flag, arg string) bool {
	return ociFlag(flags, arg) != nil
}

// takesValue reports whether arg is a flag of flags that takes its value
// from the next argument.
func takesValue(flags []cli.Flag, arg string) bool {
	f := ociFlag(flags, arg)
	if f == nil || strings.Contains(arg, "=") {
		return false
	}
	_, isBool := f.(*cli.BoolFlag)
	return !isBool
}

func ociFlag(flags []cli.Flag, arg string) cli.Flag {
	if arg == "-" || arg == "--" || !strings.HasPrefix(arg, "-") {
		return nil
	}
	name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-"), "=")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// WithHelp gives every command the help flag in place of urfave/cli's (a
// package variable dockless leaves alone: urfave/cli still looks a flag of
// its names up to show help) and drops urfave/cli's implicit "help" (alias
// "h") subcommand: in `dockless rm h` and `dockless-runc state h`, h names
// a container.
func WithHelp(flag cli.Flag, cmds []*cli.Command) []*cli.Command {
	for _, c := range cmds {
		c.HideHelp, c.HideHelpCommand = true, true
		c.Flags = append(c.Flags, flag)
		WithHelp(flag, c.Subcommands)
	}
	return cmds
}

func writeJSON(path string, v any) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return err
	}
	return errors.Join(spec.WriteJSON(f, v), f.Close())
}
