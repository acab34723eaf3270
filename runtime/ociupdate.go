package runtime

import (
	"errors"
	"slices"

	"github.com/opencontainers/cgroups"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/intelrdt"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ResourceUpdate is what runc update changes in a running container.
type ResourceUpdate struct {
	// Resources: a limit that is not set stays as it is, but for the
	// cpuset, CPU burst and idle, the pids limit and the unified map,
	// which are set as given (runc's rule), and the CPU quota and period,
	// of which one set alone leaves the other as it was.
	Resources specs.LinuxResources
	// L3CacheSchema and MemBwSchema change the Intel RDT schemas.
	L3CacheSchema, MemBwSchema string
}

// Update changes a running container's cgroup resources and Intel RDT
// schemas as runc update does.
func Update(root, id string, u ResourceUpdate) error {
	c, err := load(root, id)
	if err != nil {
		return err
	}
	r := &u.Resources
	if r.Memory == nil {
		r.Memory = &specs.LinuxMemory{}
	}
	if r.CPU == nil {
		r.CPU = &specs.LinuxCPU{}
	}
	if r.BlockIO == nil {
		r.BlockIO = &specs.LinuxBlockIO{}
	}
	if r.Pids == nil {
		r.Pids = &specs.LinuxPids{}
	}
	if r.Memory.Limit != nil && *r.Memory.Limit == -1 && r.Memory.Swap == nil {
		// "unable to set swap limit without memory limit"
		r.Memory.Swap = new(int64)
	}
	if r.CPU.Idle != nil && r.CPU.Shares == nil {
		// A weight of 0 with idle set: cpu.weight refuses anything else.
		r.CPU.Shares = new(uint64)
	}
	cfg := c.Config()
	if cfg.Cgroups.Resources == nil {
		cfg.Cgroups.Resources = &cgroups.Resources{}
	}
	res := cfg.Cgroups.Resources
	updateBlockIO(res, r.BlockIO)
	updateCPU(res, r.CPU)
	updateMemory(res, r.Memory)
	res.PidsLimit = r.Pids.Limit
	res.Unified = r.Unified
	if err := updateRDT(cfg.IntelRdt, u.L3CacheSchema, u.MemBwSchema); err != nil {
		return err
	}
	// Devices cannot be updated; what a plugin added on top of the
	// container's own rules must not be reset either.
	cfg.Cgroups.SkipDevices = true
	return c.Set(cfg)
}

func updateBlockIO(res *cgroups.Resources, b *specs.LinuxBlockIO) {
	if b.Weight != nil {
		res.BlkioWeight = *b.Weight
	}
	if b.LeafWeight != nil {
		res.BlkioLeafWeight = *b.LeafWeight
	}
	for _, wd := range b.WeightDevice {
		res.BlkioWeightDevice = upsertWeightDevice(res.BlkioWeightDevice, wd)
	}
	for _, t := range []struct {
		dst  *[]*cgroups.ThrottleDevice
		devs []specs.LinuxThrottleDevice
	}{
		{&res.BlkioThrottleReadBpsDevice, b.ThrottleReadBpsDevice},
		{&res.BlkioThrottleWriteBpsDevice, b.ThrottleWriteBpsDevice},
		{&res.BlkioThrottleReadIOPSDevice, b.ThrottleReadIOPSDevice},
		{&res.BlkioThrottleWriteIOPSDevice, b.ThrottleWriteIOPSDevice},
	} {
		for _, td := range t.devs {
			*t.dst = upsertThrottleDevice(*t.dst, td)
		}
	}
}

func updateCPU(res *cgroups.Resources, cpu *specs.LinuxCPU) {
	var period uint64
	var quota int64
	if cpu.Period != nil {
		period = *cpu.Period
	}
	if cpu.Quota != nil {
		quota = *cpu.Quota
	}
	// Both or neither set: both as given (0: the default); one alone
	// leaves the other as it was.
	switch {
	case (period == 0) == (quota == 0):
		res.CpuPeriod, res.CpuQuota = period, quota
	case period != 0:
		res.CpuPeriod = period
	default:
		res.CpuQuota = quota
	}
	res.CpuBurst = cpu.Burst
	if cpu.Shares != nil {
		res.CpuShares = *cpu.Shares
		res.CpuWeight = cgroups.ConvertCPUSharesToCgroupV2Value(*cpu.Shares)
	}
	if cpu.RealtimePeriod != nil {
		res.CpuRtPeriod = *cpu.RealtimePeriod
	}
	if cpu.RealtimeRuntime != nil {
		res.CpuRtRuntime = *cpu.RealtimeRuntime
	}
	res.CpusetCpus, res.CpusetMems = cpu.Cpus, cpu.Mems
	res.CPUIdle = cpu.Idle
}

func updateMemory(res *cgroups.Resources, m *specs.LinuxMemory) {
	if m.Limit != nil {
		res.Memory = *m.Limit
	}
	if m.Reservation != nil {
		res.MemoryReservation = *m.Reservation
	}
	if m.Swap != nil {
		res.MemorySwap = *m.Swap
	}
	res.MemoryCheckBeforeUpdate = m.CheckBeforeUpdate != nil && *m.CheckBeforeUpdate
}

// updateRDT sets the Intel RDT schemas of a container configured with
// Intel RDT.
func updateRDT(rdt *configs.IntelRdt, l3, mb string) error {
	if l3 != "" && !intelrdt.IsCATEnabled() {
		return errors.New("Intel RDT/CAT: l3 cache schema is not enabled")
	}
	if mb != "" && !intelrdt.IsMBAEnabled() {
		return errors.New("Intel RDT/MBA: memory bandwidth schema is not enabled")
	}
	if l3 == "" && mb == "" {
		return nil
	}
	if rdt == nil {
		return errors.New("updating a non-existent Intel RDT configuration is not supported")
	}
	if l3 != "" {
		rdt.L3CacheSchema = l3
	}
	if mb != "" {
		rdt.MemBwSchema = mb
	}
	return nil
}

// upsertWeightDevice updates the weights of a device already listed (the
// last entry if twice) or adds it.
func upsertWeightDevice(devices []*cgroups.WeightDevice, wd specs.LinuxWeightDevice) []*cgroups.WeightDevice {
	for i, dev := range slices.Backward(devices) {
		if dev.Major != wd.Major || dev.Minor != wd.Minor {
			continue
		}
		if wd.Weight != nil {
			devices[i].Weight = *wd.Weight
		}
		if wd.LeafWeight != nil {
			devices[i].LeafWeight = *wd.LeafWeight
		}
		return devices
	}
	var weight, leafWeight uint16
	if wd.Weight != nil {
		weight = *wd.Weight
	}
	if wd.LeafWeight != nil {
		leafWeight = *wd.LeafWeight
	}
	return append(devices, cgroups.NewWeightDevice(wd.Major, wd.Minor, weight, leafWeight))
}

// upsertThrottleDevice updates the rate of a device already listed (the
// last entry if twice) or adds it.
func upsertThrottleDevice(devices []*cgroups.ThrottleDevice, td specs.LinuxThrottleDevice) []*cgroups.ThrottleDevice {
	for i, dev := range slices.Backward(devices) {
		if dev.Major == td.Major && dev.Minor == td.Minor {
			devices[i].Rate = td.Rate
			return devices
		}
	}
	return append(devices, cgroups.NewThrottleDevice(td.Major, td.Minor, td.Rate))
}
