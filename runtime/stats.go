package runtime

import (
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/types"
)

// stats reads the container's cgroup statistics (CPU, memory, pids).
func stats(root, id string) (*libcontainer.Stats, error) {
	c, err := load(root, id)
	if err != nil {
		return nil, err
	}
	return c.Stats()
}

// EventStats reads the container's statistics in the shape `runc events`
// prints (runc's types.Stats), which go-runc and containerd decode.
func EventStats(root, id string) (*types.Stats, error) {
	st, err := stats(root, id)
	if err != nil {
		return nil, err
	}
	return eventStats(st), nil
}

// eventStats is libcontainer's statistics as runc's types.Stats.
func eventStats(ls *libcontainer.Stats) *types.Stats {
	var s types.Stats
	s.NetworkInterfaces = ls.Interfaces
	cg := ls.CgroupStats
	if cg == nil {
		return &s
	}
	s.Pids = types.Pids{Current: cg.PidsStats.Current, Limit: cg.PidsStats.Limit}
	u := cg.CpuStats.CpuUsage
	s.CPU = types.Cpu{
		Usage: types.CpuUsage{Total: u.TotalUsage, Kernel: u.UsageInKernelmode, User: u.UsageInUsermode,
			Percpu: u.PercpuUsage, PercpuKernel: u.PercpuUsageInKernelmode, PercpuUser: u.PercpuUsageInUsermode},
		Throttling: types.Throttling(cg.CpuStats.ThrottlingData),
		PSI:        cg.CpuStats.PSI,
	}
	s.CPUSet = types.CPUSet(cg.CPUSetStats)
	m := cg.MemoryStats
	s.Memory = types.Memory{Cache: m.Cache, Usage: memoryEntry(m.Usage), Swap: memoryEntry(m.SwapUsage),
		Kernel: memoryEntry(m.KernelUsage), KernelTCP: memoryEntry(m.KernelTCPUsage), Raw: m.Stats, PSI: m.PSI}
	b := cg.BlkioStats
	s.Blkio = types.Blkio{
		IoServiceBytesRecursive: blkioEntries(b.IoServiceBytesRecursive), IoServicedRecursive: blkioEntries(b.IoServicedRecursive),
		IoQueuedRecursive: blkioEntries(b.IoQueuedRecursive), IoServiceTimeRecursive: blkioEntries(b.IoServiceTimeRecursive),
		IoWaitTimeRecursive: blkioEntries(b.IoWaitTimeRecursive), IoMergedRecursive: blkioEntries(b.IoMergedRecursive),
		IoTimeRecursive: blkioEntries(b.IoTimeRecursive), SectorsRecursive: blkioEntries(b.SectorsRecursive), PSI: b.PSI,
	}
	s.Hugetlb = make(map[string]types.Hugetlb, len(cg.HugetlbStats))
	for size, h := range cg.HugetlbStats {
		s.Hugetlb[size] = types.Hugetlb{Usage: h.Usage, Max: h.MaxUsage, Failcnt: h.Failcnt}
	}
	return &s
}

func memoryEntry(d cgroups.MemoryData) types.MemoryEntry {
	return types.MemoryEntry{Limit: d.Limit, Usage: d.Usage, Max: d.MaxUsage, Failcnt: d.Failcnt}
}

func blkioEntries(in []cgroups.BlkioStatEntry) []types.BlkioEntry {
	out := make([]types.BlkioEntry, len(in))
	for i, e := range in {
		out[i] = types.BlkioEntry(e)
	}
	return out
}

// Usage is what `dockless stats` and `dockless inspect` report of a
// container's cgroup.
type Usage struct {
	CPUPercent  float64 `json:"cpu_percent"`
	CPUTotal    uint64  `json:"cpu_total_ns"`
	MemoryUsage uint64  `json:"memory_usage"`
	MemoryLimit uint64  `json:"memory_limit"`
	MemoryMax   uint64  `json:"memory_max_usage"`
	Pids        uint64  `json:"pids"`
	BlockRead   uint64  `json:"block_read"`
	BlockWrite  uint64  `json:"block_write"`
}

// Measure samples the container's cgroup twice, interval apart, for the
// CPU percentage (of one CPU, as docker counts it).
func Measure(root, id string, interval time.Duration) (*Usage, error) {
	first, err := stats(root, id)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	time.Sleep(interval)
	second, err := stats(root, id)
	if err != nil {
		return nil, err
	}
	return usageOf(first.CgroupStats, second.CgroupStats, time.Since(t0)), nil
}

// usageOf is the usage at the second of two samples taken elapsed apart.
func usageOf(first, second *cgroups.Stats, elapsed time.Duration) *Usage {
	cpu0, cpu := first.CpuStats.CpuUsage.TotalUsage, second.CpuStats.CpuUsage.TotalUsage
	u := &Usage{
		CPUTotal:    cpu,
		MemoryUsage: memoryUsage(second),
		MemoryLimit: second.MemoryStats.Usage.Limit,
		MemoryMax:   second.MemoryStats.Usage.MaxUsage,
		Pids:        second.PidsStats.Current,
	}
	if elapsed > 0 && cpu >= cpu0 {
		u.CPUPercent = float64(cpu-cpu0) / float64(elapsed.Nanoseconds()) * 100
	}
	for _, e := range second.BlkioStats.IoServiceBytesRecursive {
		switch e.Op {
		case "Read", "read":
			u.BlockRead += e.Value
		case "Write", "write":
			u.BlockWrite += e.Value
		}
	}
	return u
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
