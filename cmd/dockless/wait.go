package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func (a *app) waitCommand() *cli.Command {
	return &cli.Command{
		Name:         "wait",
		Usage:        "block until containers stop, then print their exit codes",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return failuref(`"wait" requires at least 1 argument: CONTAINER`)
			}
			for _, ref := range c.Args().Slice() {
				r, err := a.node.Find(ref)
				if err != nil {
					return err
				}
				code, err := a.node.Wait(c.Context, r)
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, code)
			}
			return nil
		},
	}
}
