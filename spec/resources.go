package spec

import (
	"errors"

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
