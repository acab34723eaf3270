package main

import (
	"fmt"
	"time"

	"github.com/dockless/dockless/images"
	"github.com/urfave/cli/v2"
)

// imagePublishCommand is dockless image publish: the image's layers into
// the shared cache ([store] shared_cache), ahead of a job that starts it
// on many nodes.
func (a *app) imagePublishCommand() *cli.Command {
	return &cli.Command{
		Name:         "publish",
		Usage:        "put the image's layers into the shared cache ([store] shared_cache), pulling it first if needed",
		ArgsUsage:    "IMAGE",
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef(`"image publish" requires exactly 1 argument: IMAGE`)
			}
			if err := a.trustedOnly("image publish"); err != nil {
				return err
			}
			if err := a.node.Policy.CheckImage(c.Args().First()); err != nil {
				return err
			}
			img, err := a.store.Ensure(c.Context, c.Args().First(), images.PullMissing, images.PullOptions{Progress: c.App.ErrWriter, Hold: true})
			if err != nil {
				return err
			}
			defer func() {
				if err := a.store.Unhold(c.Context, img); err != nil {
					a.log.Warnf("%v", err)
				}
			}()
			return a.store.Publish(c.Context, img, c.App.Writer)
		},
	}
}

// imageCacheCommand is dockless image cache prune: the shared cache's
// layers no node used for a while (root only: other nodes' images use
// them).
func (a *app) imageCacheCommand() *cli.Command {
	return &cli.Command{
		Name:  "cache",
		Usage: "manage the shared layer cache ([store] shared_cache)",
		Subcommands: []*cli.Command{{
			Name:  "prune",
			Usage: "remove the layers no node read or published for --age (nodes holding one pull its image again)",
			Flags: []cli.Flag{
				&cli.DurationFlag{Name: "age", Value: 30 * 24 * time.Hour, Usage: "remove layers unused for this long"},
			},
			OnUsageError: onUsageError,
			Action: func(c *cli.Context) error {
				if !a.caller.IsRoot() {
					return usagef("image cache prune: refused: only root prunes the shared cache (the nodes of the cluster use it)")
				}
				removed, err := a.store.PruneSharedCache(c.Duration("age"))
				for _, f := range removed {
					fmt.Fprintf(c.App.Writer, "Deleted: %s\n", f)
				}
				return err
			},
		}},
	}
}
