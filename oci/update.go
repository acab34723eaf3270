package oci

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/docker/go-units"
	"github.com/dockless/dockless/runtime"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"github.com/urfave/cli/v2"
)

func ociUpdateCommand() *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "update container resource constraints",
		ArgsUsage: "<container-id>",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resources", Aliases: []string{"r"}, Usage: "path to the file containing the resources to update or '-' to read from the standard input (runtime-spec LinuxResources JSON; the other options are then ignored)"},
			&cli.IntFlag{Name: "blkio-weight", Usage: "Specifies per cgroup weight, range is from 10 to 1000"},
			&cli.StringFlag{Name: "cpu-period", Usage: "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"},
			&cli.StringFlag{Name: "cpu-quota", Usage: "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"},
			&cli.StringFlag{Name: "cpu-burst", Usage: "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period"},
			&cli.StringFlag{Name: "cpu-share", Usage: "CPU shares (relative weight vs. other containers)"},
			&cli.StringFlag{Name: "cpu-rt-period", Usage: "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"},
			&cli.StringFlag{Name: "cpu-rt-runtime", Usage: "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"},
			&cli.StringFlag{Name: "cpuset-cpus", Usage: "CPU(s) to use"},
			&cli.StringFlag{Name: "cpuset-mems", Usage: "Memory node(s) to use"},
			&cli.StringFlag{Name: "kernel-memory", Usage: "(obsoleted; do not use)", Hidden: true},
			&cli.StringFlag{Name: "kernel-memory-tcp", Usage: "(obsoleted; do not use)", Hidden: true},
			&cli.StringFlag{Name: "memory", Usage: "Memory limit (in bytes)"},
			&cli.StringFlag{Name: "cpu-idle", Usage: "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"},
			&cli.StringFlag{Name: "memory-reservation", Usage: "Memory reservation or soft_limit (in bytes)"},
			&cli.StringFlag{Name: "memory-swap", Usage: "Total memory usage (memory + swap); set '-1' to enable unlimited swap"},
			&cli.IntFlag{Name: "pids-limit", Usage: "Maximum number of pids allowed in the container"},
			&cli.StringFlag{Name: "l3-cache-schema", Usage: "The string of Intel RDT/CAT L3 cache schema"},
			&cli.StringFlag{Name: "mem-bw-schema", Usage: "The string of Intel RDT/MBA memory bandwidth schema"},
		},
		Action: func(c *cli.Context) error {
			id, err := soleID(c)
			if err != nil {
				return err
			}
			u := runtime.ResourceUpdate{L3CacheSchema: c.String("l3-cache-schema"), MemBwSchema: c.String("mem-bw-schema")}
			if in := c.String("resources"); in != "" {
				err = readResources(in, &u)
			} else {
				err = updateFlags(c, &u)
			}
			if err != nil {
				return err
			}
			return runtime.Update(ociRoot(c), id, u)
		},
	}
}

// readResources decodes a LinuxResources JSON file ("-": stdin).
func readResources(file string, u *runtime.ResourceUpdate) error {
	in := os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	return json.NewDecoder(in).Decode(&u.Resources)
}

// updateFlags sets what update's flags ask for, with runc's units: sizes
// take docker's suffixes (50M), -1 is unlimited.
func updateFlags(c *cli.Context, u *runtime.ResourceUpdate) error {
	r := &u.Resources
	r.Memory, r.CPU, r.BlockIO, r.Pids = &specs.LinuxMemory{}, &specs.LinuxCPU{}, &specs.LinuxBlockIO{}, &specs.LinuxPids{}
	if v := c.Int("blkio-weight"); v != 0 {
		w := uint16(v)
		r.BlockIO.Weight = &w
	}
	r.CPU.Cpus, r.CPU.Mems = c.String("cpuset-cpus"), c.String("cpuset-mems")
	if v := c.String("cpu-idle"); v != "" {
		idle, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid value for cpu-idle: %w", err)
		}
		r.CPU.Idle = &idle
	}
	for name, dst := range map[string]**uint64{
		"cpu-burst": &r.CPU.Burst, "cpu-period": &r.CPU.Period, "cpu-rt-period": &r.CPU.RealtimePeriod, "cpu-share": &r.CPU.Shares,
	} {
		if v := c.String(name); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return fmt.Errorf("invalid value for %s: %w", name, err)
			}
			*dst = &n
		}
	}
	for name, dst := range map[string]**int64{"cpu-quota": &r.CPU.Quota, "cpu-rt-runtime": &r.CPU.RealtimeRuntime} {
		if v := c.String(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("invalid value for %s: %w", name, err)
			}
			*dst = &n
		}
	}
	if err := updateMemoryFlags(c, u); err != nil {
		return err
	}
	if c.IsSet("pids-limit") {
		n := int64(c.Int("pids-limit"))
		r.Pids.Limit = &n
	}
	return nil
}

// updateMemoryFlags reads the memory sizes; the kernel memory ones are
// obsolete and only warned about, as runc does.
func updateMemoryFlags(c *cli.Context, u *runtime.ResourceUpdate) error {
	m := u.Resources.Memory
	for _, f := range []struct {
		name string
		dst  **int64
	}{{"memory", &m.Limit}, {"memory-swap", &m.Swap}, {"memory-reservation", &m.Reservation}, {"kernel-memory", new(*int64)}, {"kernel-memory-tcp", new(*int64)}} {
		v := c.String(f.name)
		if v == "" {
			continue
		}
		n := int64(-1)
		if v != "-1" {
			var err error
			if n, err = units.RAMInBytes(v); err != nil || n < 0 {
				return fmt.Errorf("invalid value for %s: %q: want a size, or -1", f.name, v)
			}
		}
		*f.dst = &n
	}
	if c.String("kernel-memory") != "" || c.String("kernel-memory-tcp") != "" {
		logrus.Warn("Kernel memory settings are ignored and will be removed")
	}
	return nil
}
