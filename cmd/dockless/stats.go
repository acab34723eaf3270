package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/dockless/dockless/container"
	"github.com/urfave/cli/v2"
)

func (a *app) statsCommand() *cli.Command {
	return &cli.Command{
		Name:      "stats",
		Usage:     "show containers' CPU, memory, block I/O and pids from their cgroups",
		ArgsUsage: "[CONTAINER...]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-stream", Usage: "print one sample and exit (the only mode)"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "all containers (the default)"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			var rs []*container.Record
			if c.NArg() == 0 {
				all, err := a.node.Containers()
				if err != nil {
					return err
				}
				rs = all
			}
			for _, ref := range c.Args().Slice() {
				r, err := a.node.Find(ref)
				if err != nil {
					return err
				}
				rs = append(rs, r)
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
			for _, r := range rs {
				u, err := a.node.Measure(r, 500*time.Millisecond)
				if err != nil {
					continue // gone meanwhile
				}
				memPct := 0.0
				if u.MemoryLimit > 0 && u.MemoryLimit < 1<<62 {
					memPct = float64(u.MemoryUsage) / float64(u.MemoryLimit) * 100
				}
				fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%s\t%s / %s\t%d\n", r.ID[:12], r.Name, u.CPUPercent,
					units.BytesSize(float64(u.MemoryUsage)), units.BytesSize(float64(u.MemoryLimit)), memPct,
					"-- (host network)", units.HumanSize(float64(u.BlockRead)), units.HumanSize(float64(u.BlockWrite)), u.Pids)
			}
			return w.Flush()
		},
	}
}
