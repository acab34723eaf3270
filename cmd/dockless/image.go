package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func imageCommand() *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "manage the node's images",
		Subcommands: []*cli.Command{{
			Name:  "prune",
			Usage: "remove images no running container uses: untagged ones, or with -a all",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "remove every image no container uses"},
				&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "do not prompt (there is no prompt)"},
			},
			OnUsageError: onUsageError,
			Action: func(c *cli.Context) error {
				if err := trustedOnly(c, "image prune"); err != nil {
					return err
				}
				removed, count, err := store(c).Prune(c.Context, c.Bool("all"))
				if err != nil {
					return err
				}
				for _, name := range removed {
					fmt.Fprintf(c.App.Writer, "Deleted: %s\n", name)
				}
				fmt.Fprintf(c.App.Writer, "Total: %d images removed\n", count)
				return nil
			},
		}},
	}
}

// trustedOnly refuses callers who are not root or trusted: the image store
// is shared by every user of the node. A trusted caller who is not root
// removes only images they may use (rmi) and sees only those names.
func trustedOnly(c *cli.Context, what string) error {
	n := nodeOf(c)
	if n.policy.Trusted(n.caller) {
		return nil
	}
	return usagef("%s: refused by [callers] trusted in %s: the node's images are shared, only root and trusted callers remove them", what, n.policy.Source())
}

// enforceCap applies the policy's [store] max_size after a pull.
func enforceCap(c *cli.Context) {
	n := nodeOf(c)
	max, err := n.policy.MaxStoreSize()
	if err != nil || max <= 0 {
		return
	}
	removed, count, err := n.store().EnforceCap(c.Context, max)
	if err != nil {
		n.log.Warnf("store size cap: %v", err)
		return
	}
	for _, name := range removed {
		n.log.Infof("store size cap %d bytes: removed the least recently used image %s", max, name)
	}
	if others := count - len(removed); others > 0 {
		n.log.Infof("store size cap %d bytes: removed %d least recently used images of other users", max, others)
	}
}
