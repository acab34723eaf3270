package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dockless/dockless/spec"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

// Name is the name under which the binary speaks only the OCI runtime
// command line (runc's), as containerd's runc shim and the OCI validation
// suite call it: `make install` links it to dockless.
const Name = "dockless-runc"

// Version is the version the command line reports (set by cmd/dockless).
var Version = "dev"

// exitStatus carries a container's exit status out of an action.
type exitStatus struct{ code int }

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Run runs the OCI command line on args (args[0] is the program's name)
// and returns the process exit code: the container's status for run and
// exec, 1 for any error (as runc), which is also written to --log in
// --log-format for the caller (containerd's shim reads it from there).
func Run(args []string) int {
	app := App()
	err := app.Run(args)
	var status exitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &status):
		return status.code
	}
	logrus.Error(err)
	fmt.Fprintf(os.Stderr, "%s: %v\n", filepath.Base(args[0]), err)
	return 1
}

// App is runc's command line over dockless's runtime.
func App() *cli.App {
	help := &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"}
	return &cli.App{
		Name:            Name,
		Usage:           "OCI runtime (runc's command line) on dockless",
		Version:         Version,
		HideHelp:        true,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/" + Name, Usage: "directory for the containers' state"},
			&cli.StringFlag{Name: "log", Usage: "write errors and debug messages to this file"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json"},
			&cli.BoolFlag{Name: "debug", Usage: "log debug messages"},
			&cli.BoolFlag{Name: "systemd-cgroup", Usage: "not supported: dockless uses the cgroupfs driver"},
			&cli.StringFlag{Name: "criu", Hidden: true},
			&cli.StringFlag{Name: "rootless", Value: "auto", Usage: "not supported: the OCI interface runs as root"},
			help,
		},
		Before: func(c *cli.Context) error {
			// Warnings too, as runc: a failing poststop hook is one.
			logrus.SetLevel(logrus.WarnLevel)
			if c.Bool("debug") {
				logrus.SetLevel(logrus.DebugLevel)
			}
			switch f := c.String("log-format"); f {
			case "text":
				logrus.SetFormatter(&logrus.TextFormatter{})
			case "json":
				logrus.SetFormatter(&logrus.JSONFormatter{})
			default:
				return fmt.Errorf("invalid --log-format %q: text or json", f)
			}
			if p := c.String("log"); p != "" {
				f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
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
			return os.MkdirAll(c.String("root"), 0o711)
		},
		Commands: WithHelp(help, []*cli.Command{
			ociCreateCommand(), ociStartCommand(), ociRunCommand(), ociStateCommand(), ociKillCommand(),
			ociDeleteCommand(), ociExecCommand(), ociPsCommand(), ociListCommand(), ociPauseCommand(),
			ociResumeCommand(), ociEventsCommand(), ociUpdateCommand(), ociSpecCommand(), ociFeaturesCommand(),
		}),
	}
}

// ociRoot is the state directory of OCI containers (the global --root).
func ociRoot(c *cli.Context) string { return c.String("root") }

// ociID is the single container ID argument of most verbs.
func ociID(c *cli.Context) (string, error) {
	if c.NArg() < 1 {
		return "", fmt.Errorf("%s: container id cannot be empty", c.Command.Name)
	}
	return c.Args().First(), nil
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
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	return errors.Join(spec.WriteJSON(f, v), f.Close())
}
