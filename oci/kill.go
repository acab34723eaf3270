package oci

import (
	"fmt"

	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

func ociKillCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "kill sends the specified signal (default: SIGTERM) to the container's init process",
		ArgsUsage: "<container-id> [signal]",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "send the signal to every process of the container"}},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, minArgs); err != nil {
				return err
			}
			if err := checkArgs(c, 2, maxArgs); err != nil {
				return err
			}
			id, err := ociID(c)
			if err != nil {
				return err
			}
			name := c.Args().Get(1)
			if name == "" {
				name = "SIGTERM"
			}
			sig, err := ociSignal(name)
			if err != nil {
				return fmt.Errorf("invalid signal %s: %w", name, err)
			}
			if c.Bool("all") {
				return runtime.SignalAll(ociRoot(c), id, sig)
			}
			return runtime.Signal(ociRoot(c), id, sig)
		},
	}
}

// ociSignal is runc's reading of a signal: spec.ParseSignal's, and 0,
// which only checks that the container runs.
func ociSignal(s string) (unix.Signal, error) {
	if s == "0" {
		return 0, nil
	}
	return spec.ParseSignal(s)
}

func ociDeleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete any resources held by the container often used with detached container",
		ArgsUsage: "<container-id>",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "Forcibly deletes the container if it is still running (uses SIGKILL)"}},
		Action: func(c *cli.Context) error {
			id, err := soleID(c)
			if err != nil {
				return err
			}
			return runtime.Delete(ociRoot(c), id, c.Bool("force"))
		},
	}
}

func ociPauseCommand() *cli.Command {
	return &cli.Command{
		Name:      "pause",
		Usage:     "pause suspends all processes inside the container",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			id, err := soleID(c)
			if err != nil {
				return err
			}
			return runtime.Pause(ociRoot(c), id)
		},
	}
}

func ociResumeCommand() *cli.Command {
	return &cli.Command{
		Name:      "resume",
		Usage:     "resumes all processes that have been previously paused",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			id, err := soleID(c)
			if err != nil {
				return err
			}
			return runtime.Resume(ociRoot(c), id)
		},
	}
}
