package oci

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	"github.com/opencontainers/runc/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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
			id, err := ociID(c)
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

func ociUpdateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change a running container's resource limits",
		ArgsUsage: "CONTAINER_ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "runtime-spec LinuxResources JSON file ('-' for stdin)"},
			&cli.StringFlag{Name: "memory", Usage: "memory limit (bytes, or with a unit: 64m, 1g)"},
			&cli.StringFlag{Name: "memory-swap", Usage: "memory plus swap limit (-1: unlimited)"},
			&cli.StringFlag{Name: "memory-reservation", Usage: "memory soft limit"},
			&cli.Uint64Flag{Name: "cpu-shares", Usage: "CPU shares"},
			&cli.Int64Flag{Name: "cpu-quota", Usage: "CFS quota in microseconds"},
			&cli.Uint64Flag{Name: "cpu-period", Usage: "CFS period in microseconds"},
			&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPUs to use"},
			&cli.StringFlag{Name: "cpuset-mems", Usage: "memory nodes to use"},
			&cli.Int64Flag{Name: "pids-limit", Usage: "maximum number of tasks"},
		},
		Action: func(c *cli.Context) error {
			id, err := ociID(c)
			if err != nil {
				return err
			}
			r, err := updateResources(c)
			if err != nil {
				return err
			}
			return runtime.Update(ociRoot(c), id, r)
		},
	}
}

// updateResources is what `update` asks for: the --resources file (runc's
// LinuxResources JSON), then each limit flag set over it.
func updateResources(c *cli.Context) (*specs.LinuxResources, error) {
	var r specs.LinuxResources
	if f := c.String("resources"); f != "" {
		if err := readResources(f, &r); err != nil {
			return nil, err
		}
	}
	mem := func() *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func() *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	for _, f := range []struct {
		name string
		dst  func() **int64
	}{
		{"memory", func() **int64 { return &mem().Limit }},
		{"memory-swap", func() **int64 { return &mem().Swap }},
		{"memory-reservation", func() **int64 { return &mem().Reservation }},
	} {
		if !c.IsSet(f.name) {
			continue
		}
		v, err := spec.ParseMemorySwap(c.String(f.name))
		if err != nil {
			return nil, fmt.Errorf("--%s %q: %w", f.name, c.String(f.name), err)
		}
		*f.dst() = &v
	}
	for _, f := range []struct {
		name string
		set  func()
	}{
		{"cpu-shares", func() { v := c.Uint64("cpu-shares"); cpu().Shares = &v }},
		{"cpu-quota", func() { v := c.Int64("cpu-quota"); cpu().Quota = &v }},
		{"cpu-period", func() { v := c.Uint64("cpu-period"); cpu().Period = &v }},
		{"cpuset-cpus", func() { cpu().Cpus = c.String("cpuset-cpus") }},
		{"cpuset-mems", func() { cpu().Mems = c.String("cpuset-mems") }},
		{"pids-limit", func() { v := c.Int64("pids-limit"); r.Pids = &specs.LinuxPids{Limit: &v} }},
	} {
		if c.IsSet(f.name) {
			f.set()
		}
	}
	return &r, nil
}

// readResources decodes a LinuxResources JSON file ("-": stdin) into r.
func readResources(file string, r *specs.LinuxResources) error {
	in := os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	return json.NewDecoder(in).Decode(r)
}
