package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func (a *app) systemCommand() *cli.Command {
	return &cli.Command{
		Name:  "system",
		Usage: "manage the node's dockless state",
		Subcommands: []*cli.Command{{
			Name:         "prune",
			Usage:        "clean up after dockless processes that died: their containers, mounts, cgroups, snapshots and state",
			Flags:        []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt (there is no prompt)"}},
			OnUsageError: onUsageError,
			Action: func(c *cli.Context) error {
				if err := a.trustedOnly("system prune"); err != nil {
					return err
				}
				count, err := a.node.Reap()
				fmt.Fprintf(c.App.Writer, "Cleaned up %d containers of dockless processes that died\n", count)
				return err
			},
		}},
	}
}
