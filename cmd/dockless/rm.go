package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"
)

func rmCommand() *cli.Command {
	return &cli.Command{
		Name:         "rm",
		Usage:        "remove containers (dockless removes stopped ones itself; -f stops running ones)",
		ArgsUsage:    "CONTAINER [CONTAINER...]",
		Flags:        []cli.Flag{&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "kill and remove a running container"}},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			return eachContainer(c, func(n *node, r *record) error {
				state, _ := r.status(n)
				if state == "dead" {
					return reapOne(n, r)
				}
				if !c.Bool("force") {
					return fmt.Errorf("you cannot remove a %s container %s: stop the container before removing or use -f", state, r.ID[:12])
				}
				return stopContainer(c.Context, n, r, 0*time.Second)
			})
		},
	}
}
