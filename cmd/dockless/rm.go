package main

import (
	"github.com/dockless/dockless/container"
	"github.com/urfave/cli/v2"
)

func (a *app) rmCommand() *cli.Command {
	return &cli.Command{
		Name:         "rm",
		Usage:        "remove containers (dockless removes stopped ones itself; -f stops running ones)",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		Flags:        []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill and remove a running container"}},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			return a.eachContainer(c, func(r *container.Record) error { return a.node.Remove(c.Context, r, c.Bool("force")) })
		},
	}
}
