package spec

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// minMemory is docker's smallest accepted memory limit.
const minMemory = 6 << 20

// WithMemory sets docker's -m and --memory-swap: swap 0 with a limit means
// twice the limit (as much swap as memory), -1 unlimited swap (no swap
// limit in the spec, as docker writes it). Like docker it states that the
// OOM killer stays enabled.
func WithMemory(limit, swap int64) Opt {
	return func(s *specs.Spec) error {
		if limit == 0 && swap == 0 {
			return nil
		}
		if limit == 0 {
			return errors.New("--memory-swap needs --memory: you should always set the memory limit when using a memoryswap limit")
		}
		if limit < minMemory {
			return errors.New("minimum memory limit allowed is 6MB")
		}
		switch {
		case swap == 0:
			swap = 2 * limit
		case swap > 0 && swap < limit:
			return errors.New("minimum memoryswap limit should be larger than memory limit, see usage")
		case swap < -1:
			return errors.New("invalid --memory-swap: use -1 for unlimited or a size at least --memory")
		}
		m := setMemory(s)
		m.Limit = &limit
		if swap > 0 {
			m.Swap = &swap
		}
		oomKiller := false
		m.DisableOOMKiller = &oomKiller
		return nil
	}
}

// WithCPUShares sets the relative CPU weight (docker's --cpu-shares).
func WithCPUShares(shares uint64) Opt {
	return func(s *specs.Spec) error {
		if shares == 0 {
			return nil
		}
		setCPU(s).Shares = &shares
		return nil
	}
}

// WithCgroupsPath sets the container's cgroup path; a relative path is
// created below the cgroup of the dockless process.
func WithCgroupsPath(p string) Opt {
	return func(s *specs.Spec) error {
		setLinux(s).CgroupsPath = p
		return nil
	}
}

// cfsPeriod is the CFS period docker gives --cpus (100 ms, in µs).
const cfsPeriod = 100000

// WithCPULimit sets docker's --cpus (nano, billionths of a CPU; at most
// the node's cpus when known) or its --cpu-quota and --cpu-period (µs),
// which --cpus excludes: the CFS quota and period, cgroup v1's
// cpu.cfs_quota_us and cpu.cfs_period_us, v2's cpu.max.
func WithCPULimit(nano, quota, period int64, cpus int) Opt {
	return func(s *specs.Spec) error {
		switch {
		case nano < 0 || (cpus > 0 && nano > int64(cpus)*1e9):
			return fmt.Errorf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", cpus, cpus)
		case nano > 0 && period != 0:
			return errors.New("conflicting options: --cpus and --cpu-period cannot both be set")
		case nano > 0 && quota != 0:
			return errors.New("conflicting options: --cpus and --cpu-quota cannot both be set")
		case period != 0 && (period < 1000 || period > 1000000):
			return errors.New("--cpu-period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
		case quota > 0 && quota < 1000:
			return errors.New("--cpu-quota can not be less than 1ms (i.e. 1000)")
		}
		if nano > 0 {
			quota, period = nano*cfsPeriod/1e9, cfsPeriod
		}
		if quota != 0 {
			setCPU(s).Quota = &quota
		}
		if period != 0 {
			p := uint64(period)
			setCPU(s).Period = &p
		}
		return nil
	}
}

// WithCpuset sets docker's --cpuset-cpus and --cpuset-mems (cpuset.cpus and
// cpuset.mems in both cgroup versions).
func WithCpuset(cpus, mems string) Opt {
	return func(s *specs.Spec) error {
		for _, v := range []string{cpus, mems} {
			if _, err := ParseCpuset(v); v != "" && err != nil {
				return fmt.Errorf("cpuset %q: %w", v, err)
			}
		}
		if cpus != "" {
			setCPU(s).Cpus = cpus
		}
		if mems != "" {
			setCPU(s).Mems = mems
		}
		return nil
	}
}

// WithPidsLimit sets docker's --pids-limit (pids.max in both cgroup
// versions): nil leaves it unset, 0 or less is unlimited, as docker.
func WithPidsLimit(limit *int64) Opt {
	return func(s *specs.Spec) error {
		if limit == nil {
			return nil
		}
		n := *limit
		if n <= 0 {
			n = -1
		}
		setResources(s).Pids = &specs.LinuxPids{Limit: &n}
		return nil
	}
}
