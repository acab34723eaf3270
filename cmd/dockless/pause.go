package main

import (
	"github.com/dockless/dockless/runtime"
	"github.com/urfave/cli/v2"
)

func pauseCommand() *cli.Command {
	return &cli.Command{
		Name:         "pause",
		Usage:        "freeze all processes of containers (cgroup freezer)",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			return eachContainer(c, func(n *node, r *record) error { return runtime.Pause(runcRoot(n), r.ID) })
		},
	}
}

func unpauseCommand() *cli.Command {
	return &cli.Command{
		Name:         "unpause",
		Usage:        "thaw paused containers",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			return eachContainer(c, func(n *node, r *record) error { return runtime.Resume(runcRoot(n), r.ID) })
		},
	}
}
