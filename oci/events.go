package oci

import (
	"encoding/json"
	"time"

	"github.com/dockless/dockless/runtime"
	"github.com/opencontainers/runc/types"
	"github.com/urfave/cli/v2"
)

func ociEventsCommand() *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "print the container's resource statistics and OOM events as JSON lines",
		ArgsUsage: "CONTAINER_ID",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "stats", Usage: "print one statistics event and exit"},
			&cli.DurationFlag{Name: "interval", Value: 5 * time.Second, Usage: "time between statistics events"},
		},
		Action: func(c *cli.Context) error {
			id, err := soleID(c)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(c.App.Writer)
			stats := func() error {
				st, err := runtime.EventStats(ociRoot(c), id)
				if err != nil {
					return err
				}
				return enc.Encode(types.Event{Type: "stats", ID: id, Data: st})
			}
			if c.Bool("stats") {
				return stats()
			}
			oom, err := runtime.NotifyOOM(ociRoot(c), id)
			if err != nil {
				return err
			}
			tick := time.NewTicker(c.Duration("interval"))
			defer tick.Stop()
			for {
				select {
				case _, ok := <-oom:
					if !ok {
						return nil
					}
					if err := enc.Encode(types.Event{Type: "oom", ID: id}); err != nil {
						return err
					}
				case <-tick.C:
					if err := stats(); err != nil {
						return nil // the container is gone
					}
				}
			}
		},
	}
}
