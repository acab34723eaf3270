package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/docker/go-units"
	"github.com/dockless/dockless/runtime"
	"github.com/opencontainers/cgroups"
	"github.com/urfave/cli/v2"
)

// usage is what stats and inspect report of a container's cgroup.
type usage struct {
	CPUPercent  float64 `json:"cpu_percent"`
	CPUTotal    uint64  `json:"cpu_total_ns"`
	MemoryUsage uint64  `json:"memory_usage"`
	MemoryLimit uint64  `json:"memory_limit"`
	MemoryMax   uint64  `json:"memory_max_usage"`
	Pids        uint64  `json:"pids"`
	BlockRead   uint64  `json:"block_read"`
	BlockWrite  uint64  `json:"block_write"`
}

// measure samples the container's cgroup twice, interval apart, for the CPU
// percentage (of one CPU, as docker counts it).
func measure(n *node, id string, interval time.Duration) (*usage, error) {
	first, err := runtime.Stats(runcRoot(n), id)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	time.Sleep(interval)
	second, err := runtime.Stats(runcRoot(n), id)
	if err != nil {
		return nil, err
	}
	cg := second.CgroupStats
	u := &usage{
		CPUTotal:    cg.CpuStats.CpuUsage.TotalUsage,
		MemoryUsage: memoryUsage(cg),
		MemoryLimit: cg.MemoryStats.Usage.Limit,
		MemoryMax:   cg.MemoryStats.Usage.MaxUsage,
		Pids:        cg.PidsStats.Current,
	}
	if d := time.Since(t0); d > 0 && cg.CpuStats.CpuUsage.TotalUsage >= first.CgroupStats.CpuStats.CpuUsage.TotalUsage {
		u.CPUPercent = float64(cg.CpuStats.CpuUsage.TotalUsage-first.CgroupStats.CpuStats.CpuUsage.TotalUsage) / float64(d.Nanoseconds()) * 100
	}
	for _, e := range cg.BlkioStats.IoServiceBytesRecursive {
		switch e.Op {
		case "Read", "read":
			u.BlockRead += e.Value
		case "Write", "write":
			u.BlockWrite += e.Value
		}
	}
	return u, nil
}

// memoryUsage is docker's MEM USAGE: usage minus the page cache that can
// be reclaimed (inactive_file), as LSF's default accounting (rss) also
// leaves the cache out.
func memoryUsage(cg *cgroups.Stats) uint64 {
	u := cg.MemoryStats.Usage.Usage
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := cg.MemoryStats.Stats[k]; ok && v < u {
			return u - v
		}
	}
	return u
}

func statsCommand() *cli.Command {
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
			n := nodeOf(c)
			var rs []*record
			if c.NArg() == 0 {
				all, err := records(n)
				if err != nil {
					return err
				}
				rs = all
			}
			for _, ref := range c.Args().Slice() {
				r, err := findContainer(n, ref)
				if err != nil {
					return err
				}
				rs = append(rs, r)
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
			for _, r := range rs {
				u, err := measure(n, r.ID, 500*time.Millisecond)
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
