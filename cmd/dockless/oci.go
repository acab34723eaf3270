package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

// ociName is the name under which the binary speaks only the OCI runtime
// command line (runc's), as containerd's runc shim and the OCI validation
// suite call it: `make install` links it to dockless.
const ociName = "dockless-runc"

// ociCommand is `dockless oci …`, the same command line as dockless-runc.
func (a *app) ociCommand() *cli.Command {
	return &cli.Command{
		Name:            "oci",
		Usage:           "the OCI runtime command line (runc's verbs and flags; also installed as " + ociName + ")",
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			if !a.caller.IsRoot() {
				return usagef("the OCI runtime interface is for root (containerd, the OCI tools); use dockless run")
			}
			if code := runOCI(append([]string{"dockless oci"}, c.Args().Slice()...)); code != 0 {
				return exitStatus{code}
			}
			return nil
		},
	}
}

// runOCI runs the OCI command line and returns the process exit code: the
// container's status for run and exec, 1 for any error (as runc), which is
// also written to --log in --log-format for the caller (containerd's shim
// reads it from there).
func runOCI(args []string) int {
	app := newOCIApp()
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

func newOCIApp() *cli.App {
	help := &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"}
	return &cli.App{
		Name:            ociName,
		Usage:           "OCI runtime (runc's command line) on dockless",
		Version:         version,
		HideHelp:        true,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Value: "/run/" + ociName, Usage: "directory for the containers' state"},
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
		Commands: withHelp(help, []*cli.Command{
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
