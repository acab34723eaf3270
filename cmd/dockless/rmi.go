package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func (a *app) rmiCommand() *cli.Command {
	return &cli.Command{
		Name:         "rmi",
		Usage:        "remove images and collect the content and layers nothing uses",
		ArgsUsage:    "IMAGE [IMAGE...]",
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return failuref(`"rmi" requires at least 1 argument: IMAGE`)
			}
			if err := a.trustedOnly("rmi"); err != nil {
				return err
			}
			for _, ref := range c.Args().Slice() {
				name, err := a.store.Remove(c.Context, ref)
				if err != nil {
					return err
				}
				fmt.Fprintf(c.App.Writer, "Untagged: %s\n", name)
			}
			return nil
		},
	}
}
