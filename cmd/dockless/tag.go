package main

import (
	"errors"

	"github.com/dockless/dockless/images"
	"github.com/urfave/cli/v2"
)

func (a *app) tagCommand() *cli.Command {
	return &cli.Command{
		Name:         "tag",
		Usage:        "give an image of the node store another name (yours alone)",
		ArgsUsage:    "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return failuref(`"tag" requires exactly 2 arguments: SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`)
			}
			_, err := a.store.Tag(c.Context, c.Args().Get(0), c.Args().Get(1))
			if errors.Is(err, images.ErrNotFound) {
				return failure{err}
			}
			return err
		},
	}
}
