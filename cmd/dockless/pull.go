package main

import (
	"fmt"
	"io"
	"os"

	"github.com/dockless/dockless/images"
	"github.com/urfave/cli/v2"
)

func (a *app) pullCommand() *cli.Command {
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
			if err := a.node.Policy.CheckImage(c.Args().First()); err != nil {
				return err
			}
			// Held while the size cap applies: it evicts older images,
			// never the one just pulled.
			img, err := a.store.Ensure(c.Context, c.Args().First(), images.PullAlways, images.PullOptions{Progress: progress, Bars: barsOn(os.Stdout), Hold: true})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.App.Writer, img.Name)
			a.node.EnforceCap(c.Context)
			if err := a.store.Unhold(c.Context, img); err != nil {
				a.log.Warnf("%v", err)
			}
			return nil
		},
	}
}
