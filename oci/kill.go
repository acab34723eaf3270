package oci

import (
	"fmt"

	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	"github.com/urfave/cli/v2"
)

func ociKillCommand() *cli.Command {
	return &cli.Command{
		Name:      "kill",
		Usage:     "send a signal (default SIGTERM) to the container's init, or with --all to all its processes",
		ArgsUsage: "CONTAINER_ID [SIGNAL]",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "signal every process of the container"}},
		Action: func(c *cli.Context) error {
			id, err := ociID(c)
			if err != nil {
				return err
			}
			name := "TERM"
			if c.NArg() > 1 {
				name = c.Args().Get(1)
			}
			sig, err := spec.ParseSignal(name)
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

func ociDeleteCommand() *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a stopped (or created) container; --force kills a running one first",
		ArgsUsage: "CONTAINER_ID",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill and delete a running container"}},
		Action: func(c *cli.Context) error {
			id, err := ociID(c)
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
		Usage:     "freeze every process of the container",
		ArgsUsage: "CONTAINER_ID",
		Action: func(c *cli.Context) error {
			id, err := ociID(c)
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
		Usage:     "thaw a paused container",
		ArgsUsage: "CONTAINER_ID",
		Action: func(c *cli.Context) error {
			id, err := ociID(c)
			if err != nil {
				return err
			}
			return runtime.Resume(ociRoot(c), id)
		},
	}
}
