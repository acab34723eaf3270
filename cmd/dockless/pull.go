package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dockless/dockless/images"
	"github.com/urfave/cli/v2"
)

func pullCommand() *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "download an image from a registry",
		ArgsUsage: "NAME[:TAG|@DIGEST]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only the image name"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef(`"pull" requires exactly 1 argument: NAME[:TAG|@DIGEST]`)
			}
			var progress io.Writer = c.App.Writer
			if c.Bool("quiet") {
				progress = nil
			}
			n := nodeOf(c)
			if err := n.policy.CheckImage(c.Args().First()); err != nil {
				return err
			}
			img, err := store(c).Pull(c.Context, c.Args().First(), images.PullOptions{Progress: progress, Bars: barsOn(os.Stdout)})
			if err != nil {
				return pullRefused(n, err)
			}
			fmt.Fprintln(c.App.Writer, img.Name)
			enforceCap(c)
			return nil
		},
	}
}

// pullRefused names the policy when one of its bounds on a pull refused
// it.
func pullRefused(n *node, err error) error {
	if errors.Is(err, images.ErrTooLarge) || errors.Is(err, images.ErrNoSpace) {
		return fmt.Errorf("%w: refused by the bounds on one pull in %s ([store] max_image_size, max_image_files, min_free_space): ask the node's admin", err, n.policy.Source())
	}
	return err
}

func onUsageError(_ *cli.Context, err error, _ bool) error { return usageError{err} }
