package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func systemCommand() *cli.Command {
	return &cli.Command{
		Name:  "system",
		Usage: "manage the node's dockless state",
		Subcommands: []*cli.Command{{
			Name:         "prune",
			Usage:        "clean up after dockless processes that died: their containers, mounts, cgroups, snapshots and state",
			Flags:        []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt (there is no prompt)"}},
			OnUsageError: onUsageError,
			Action: func(c *cli.Context) error {
				n := nodeOf(c)
				if !n.policy.Trusted(n.caller) {
					return usagef("system prune: only root and trusted callers may clean up the node")
				}
				count, err := reap(n)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "Cleaned up %d containers of dockless processes that died\n", count)
				return nil
			},
		}},
	}
}
