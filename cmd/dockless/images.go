package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/dockless/dockless/images"
	"github.com/urfave/cli/v2"
)

func (a *app) imagesCommand() *cli.Command {
	return &cli.Command{
		Name:         "images",
		Usage:        "list images in the node store",
		Flags:        []cli.Flag{&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print only image IDs"}},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			all, err := a.store.List(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("quiet") {
				for _, img := range all {
					fmt.Fprintln(c.App.Writer, img.ID.Encoded()[:12])
				}
				return nil
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
			for _, img := range all {
				repo, tag := images.Familiar(img.Name)
				created := "N/A"
				if t := img.Created(); !t.IsZero() {
					created = units.HumanDuration(time.Since(t)) + " ago"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", repo, tag, img.ID.Encoded()[:12], created, units.HumanSizeWithPrecision(float64(img.Size), 3))
			}
			return w.Flush()
		},
	}
}
