package main

import (
	"github.com/dockless/dockless/container"
	"github.com/urfave/cli/v2"
)

func (a *app) pauseCommand() *cli.Command {
	return &cli.Command{
		Name:         "pause",
		Usage:        "freeze all processes of containers (cgroup freezer)",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			return a.eachContainer(c, func(r *container.Record) error { return a.node.Pause(r) })
		},
	}
}

func (a *app) unpauseCommand() *cli.Command {
	return &cli.Command{
		Name:         "unpause",
		Usage:        "thaw paused containers",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			return a.eachContainer(c, func(r *container.Record) error { return a.node.Resume(r) })
		},
	}
}
