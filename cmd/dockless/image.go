package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func (a *app) imageCommand() *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "manage the node's images",
		Subcommands: []*cli.Command{{
			Name:  "prune",
			Usage: "remove images no running container uses: untagged ones, or with -a all",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every image no container uses"},
				&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt (there is no prompt)"},
			},
			OnUsageError: onUsageError,
			Action: func(c *cli.Context) error {
				if err := a.trustedOnly("image prune"); err != nil {
					return err
				}
				removed, count, err := a.store.Prune(c.Context, c.Bool("all"))
				if err != nil {
					return err
				}
				for _, name := range removed {
					fmt.Fprintf(c.App.Writer, "Deleted: %s\n", name)
				}
				fmt.Fprintf(c.App.Writer, "Total: %d images removed\n", count)
				return nil
			},
		}, a.imagePublishCommand(), a.imageCacheCommand()},
	}
}
