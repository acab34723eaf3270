package runtime

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/types"
)

// `runc events` prints runc's types.Stats, which go-runc and containerd's
// shim decode: every libcontainer figure lands under runc's JSON name.
func TestEventStats_LibcontainerFiguresUnderRuncEventsNames(t *testing.T) {
	psi := &cgroups.PSIStats{Some: cgroups.PSIData{Avg10: 1.5, Total: 7}}
	ls := &libcontainer.Stats{
		Interfaces: []*types.NetworkInterface{{Name: "eth0", RxBytes: 11, TxBytes: 12}},
		CgroupStats: &cgroups.Stats{
			CpuStats: cgroups.CpuStats{
				CpuUsage: cgroups.CpuUsage{TotalUsage: 100, UsageInKernelmode: 30, UsageInUsermode: 70,
					PercpuUsage: []uint64{60, 40}, PercpuUsageInKernelmode: []uint64{20, 10}, PercpuUsageInUsermode: []uint64{40, 30}},
				ThrottlingData: cgroups.ThrottlingData{Periods: 5, ThrottledPeriods: 2, ThrottledTime: 9},
				PSI:            psi,
			},
			CPUSetStats: cgroups.CPUSetStats{CPUs: []uint16{0, 1}, Mems: []uint16{0}, CPUExclusive: 1},
			MemoryStats: cgroups.MemoryStats{
				Cache:          4096,
				Usage:          cgroups.MemoryData{Usage: 1000, MaxUsage: 2000, Failcnt: 3, Limit: 64 << 20},
				SwapUsage:      cgroups.MemoryData{Usage: 10, Limit: 20},
				KernelUsage:    cgroups.MemoryData{Usage: 30},
				KernelTCPUsage: cgroups.MemoryData{Usage: 40},
				Stats:          map[string]uint64{"inactive_file": 500},
			},
			PidsStats: cgroups.PidsStats{Current: 3, Limit: 100},
			BlkioStats: cgroups.BlkioStats{
				IoServiceBytesRecursive: []cgroups.BlkioStatEntry{{Major: 8, Minor: 0, Op: "read", Value: 512}},
				IoServicedRecursive:     []cgroups.BlkioStatEntry{{Major: 8, Minor: 0, Op: "write", Value: 2}},
			},
			HugetlbStats: map[string]cgroups.HugetlbStats{"2MB": {Usage: 2 << 20, MaxUsage: 4 << 20, Failcnt: 1}},
		},
	}
	want := `{
		"cpu": {
			"usage": {"total": 100, "kernel": 30, "user": 70, "percpu": [60, 40], "percpu_kernel": [20, 10], "percpu_user": [40, 30]},
			"throttling": {"periods": 5, "throttledPeriods": 2, "throttledTime": 9},
			"psi": {"some": {"avg10": 1.5, "avg60": 0, "avg300": 0, "total": 7}}
		},
		"cpuset": {"cpus": [0, 1], "mems": [0], "cpu_exclusive": 1, "mem_hardwall": 0, "mem_exclusive": 0, "memory_migrate": 0,
			"memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0, "sched_load_balance": 0, "sched_relax_domain_level": 0},
		"memory": {
			"cache": 4096,
			"usage": {"limit": 67108864, "usage": 1000, "max": 2000, "failcnt": 3},
			"swap": {"limit": 20, "usage": 10, "failcnt": 0},
			"kernel": {"limit": 0, "usage": 30, "failcnt": 0},
			"kernelTCP": {"limit": 0, "usage": 40, "failcnt": 0},
			"raw": {"inactive_file": 500}
		},
		"pids": {"current": 3, "limit": 100},
		"blkio": {
			"ioServiceBytesRecursive": [{"major": 8, "op": "read", "value": 512}],
			"ioServicedRecursive": [{"major": 8, "op": "write", "value": 2}]
		},
		"hugetlb": {"2MB": {"usage": 2097152, "max": 4194304, "failcnt": 1}},
		"intel_rdt": {},
		"network_interfaces": [{"Name": "eth0", "RxBytes": 11, "RxPackets": 0, "RxErrors": 0, "RxDropped": 0,
			"TxBytes": 12, "TxPackets": 0, "TxErrors": 0, "TxDropped": 0}]
	}`
	assertSameJSON(t, eventStats(ls), want)

	// A container whose cgroup could not be read still has its interfaces.
	assertSameJSON(t, eventStats(&libcontainer.Stats{Interfaces: ls.Interfaces}), `{
		"cpu": {}, "cpuset": {"cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0, "memory_migrate": 0,
			"memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0, "sched_load_balance": 0, "sched_relax_domain_level": 0},
		"memory": {}, "pids": {}, "blkio": {}, "hugetlb": null, "intel_rdt": {},
		"network_interfaces": [{"Name": "eth0", "RxBytes": 11, "RxPackets": 0, "RxErrors": 0, "RxDropped": 0,
			"TxBytes": 12, "TxPackets": 0, "TxErrors": 0, "TxDropped": 0}]
	}`)
}

func assertSameJSON(t *testing.T, v any, want string) {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var got, exp any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("want: %v", err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("got  %s\nwant %s", raw, want)
	}
}

// What stats and inspect print: docker's MEM USAGE (without the
// reclaimable page cache), the CPU share of one CPU between two samples,
// block I/O from cgroup v1's and v2's operation names.
func TestUsageOf_DockerFiguresFromTwoSamples(t *testing.T) {
	sample := func(cpu, mem uint64, raw map[string]uint64, io ...cgroups.BlkioStatEntry) *cgroups.Stats {
		return &cgroups.Stats{
			CpuStats:    cgroups.CpuStats{CpuUsage: cgroups.CpuUsage{TotalUsage: cpu}},
			MemoryStats: cgroups.MemoryStats{Usage: cgroups.MemoryData{Usage: mem, MaxUsage: 3000, Limit: 64 << 20}, Stats: raw},
			PidsStats:   cgroups.PidsStats{Current: 4},
			BlkioStats:  cgroups.BlkioStats{IoServiceBytesRecursive: io},
		}
	}
	for _, tc := range []struct {
		name          string
		first, second *cgroups.Stats
		elapsed       time.Duration
		want          Usage
	}{
		{"cgroup v2: inactive_file left out, half a CPU", sample(1e9, 0, nil), sample(1e9+250e6, 1000, map[string]uint64{"inactive_file": 400}), 500 * time.Millisecond,
			Usage{CPUPercent: 50, CPUTotal: 1e9 + 250e6, MemoryUsage: 600, MemoryLimit: 64 << 20, MemoryMax: 3000, Pids: 4}},
		{"cgroup v1: total_inactive_file left out, two CPUs", sample(0, 0, nil), sample(2e9, 1000, map[string]uint64{"total_inactive_file": 100, "inactive_file": 900}), time.Second,
			Usage{CPUPercent: 200, CPUTotal: 2e9, MemoryUsage: 900, MemoryLimit: 64 << 20, MemoryMax: 3000, Pids: 4}},
		{"more inactive cache than usage: usage itself", sample(0, 0, nil), sample(0, 1000, map[string]uint64{"inactive_file": 1000}), time.Second,
			Usage{MemoryUsage: 1000, MemoryLimit: 64 << 20, MemoryMax: 3000, Pids: 4}},
		{"counter went back: no CPU percentage", sample(5e9, 0, nil), sample(1e9, 0, nil), time.Second,
			Usage{CPUTotal: 1e9, MemoryLimit: 64 << 20, MemoryMax: 3000, Pids: 4}},
		{"no time between samples: no CPU percentage", sample(0, 0, nil), sample(1e9, 0, nil), 0,
			Usage{CPUTotal: 1e9, MemoryLimit: 64 << 20, MemoryMax: 3000, Pids: 4}},
		{"block I/O: v1 and v2 names summed, other operations not", sample(0, 0, nil), sample(0, 0, nil,
			cgroups.BlkioStatEntry{Major: 8, Op: "Read", Value: 100}, cgroups.BlkioStatEntry{Major: 8, Op: "Write", Value: 10},
			cgroups.BlkioStatEntry{Major: 259, Op: "read", Value: 200}, cgroups.BlkioStatEntry{Major: 259, Op: "write", Value: 20},
			cgroups.BlkioStatEntry{Major: 8, Op: "Total", Value: 110}, cgroups.BlkioStatEntry{Major: 8, Op: "Sync", Value: 5}), time.Second,
			Usage{MemoryLimit: 64 << 20, MemoryMax: 3000, Pids: 4, BlockRead: 300, BlockWrite: 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := usageOf(tc.first, tc.second, tc.elapsed); *got != tc.want {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}

// The JSON names of Usage are what `dockless inspect` prints under Usage.
func TestUsage_JSONNames(t *testing.T) {
	assertSameJSON(t, Usage{CPUPercent: 1.5, CPUTotal: 2, MemoryUsage: 3, MemoryLimit: 4, MemoryMax: 5, Pids: 6, BlockRead: 7, BlockWrite: 8},
		`{"cpu_percent": 1.5, "cpu_total_ns": 2, "memory_usage": 3, "memory_limit": 4, "memory_max_usage": 5, "pids": 6, "block_read": 7, "block_write": 8}`)
}
