package main

import (
	"errors"
	"io"

	"github.com/dockless/dockless/images"
	"github.com/urfave/cli/v2"
)

func (a *app) pushCommand() *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "upload an image of the node store to its registry with your credentials",
		ArgsUsage: "NAME[:TAG]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print no progress"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return failuref(`"push" requires exactly 1 argument: NAME[:TAG]`)
			}
			var progress io.Writer = c.App.Writer
			if c.Bool("quiet") {
				progress = nil
			}
			return a.push(c, c.Args().First(), progress)
		},
	}
}

// push uploads ref after the policy's registry check; docker's client
// exits 1 for what the registry or the store refuses.
func (a *app) push(c *cli.Context, ref string, progress io.Writer) error {
	if err := a.node.Policy.CheckPush(ref); err != nil {
		return err
	}
	err := a.store.Push(c.Context, ref, progress)
	if errors.Is(err, images.ErrDenied) || errors.Is(err, images.ErrNotFound) {
		return failure{err}
	}
	return err
}
