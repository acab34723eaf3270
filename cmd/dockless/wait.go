package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

func waitCommand() *cli.Command {
	return &cli.Command{
		Name:         "wait",
		Usage:        "block until containers stop, then print their exit codes",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef(`"wait" requires at least 1 argument: CONTAINER`)
			}
			n := nodeOf(c)
			for _, ref := range c.Args().Slice() {
				r, err := findContainer(n, ref)
				if err != nil {
					return err
				}
				for !waitGone(c.Context, n, r, time.Hour) {
					if err := c.Context.Err(); err != nil {
						return err
					}
				}
				code := "-1"
				if b, err := os.ReadFile(exitPath(n.state, r.ID)); err == nil {
					code = strings.TrimSpace(string(b))
					os.Remove(exitPath(n.state, r.ID))
				}
				fmt.Fprintln(c.App.Writer, code)
			}
			return nil
		},
	}
}
