package spec

import (
	"path"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Build turns a checked request, the image config and the host's facts
// into the container's runtime spec. Each line is one rule; the order matters only where an
// option reads what an earlier one set (capabilities need the user, seccomp
// needs the capabilities).
func Build(req *Request, img ocispec.ImageConfig, host Host) (*specs.Spec, error) {
	args, err := Args(img, req.Entrypoint, req.EntrypointSet, req.Cmd)
	if err != nil {
		return nil, err
	}
	base := req.CapBase
	if base == nil {
		base = DefaultCapabilities
	}
	caps, err := Capabilities(base, req.CapAdd, req.CapDrop)
	if err != nil {
		return nil, err
	}
	workdir := img.WorkingDir
	if req.Workdir != "" {
		workdir = req.Workdir
	}
	return New(
		WithRootfs(host.Rootfs, req.ReadOnly),
		WithArgs(args),
		WithEnv(img.Env),
		WithEnv(req.Env),
		WithPathAppend(req.PathAppend),
		WithHostname(req.Hostname),
		WithUser(host.User),
		WithCwd(workdir),
		WithTTY(req.Tty),
		WithNetwork(req.Network),
		WithIPC(req.IPC),
		cgroupNamespace(host.CgroupV2),
		WithShmSize(req.ShmSize),
		WithMounts(req.Mounts, req.Tmpfs),
		WithEtcFiles(host.EtcDir, req.ReadOnly),
		WithInit(req.Init, host.InitPath),
		WithDevices(req.Devices),
		WithCapabilities(caps, req.AmbientCapabilities),
		WithNoNewPrivileges(req.NoNewPrivileges),
		WithSELinuxLabel(req.SELinuxLabel, host.SELinux),
		WithSeccomp(req.SeccompProfile),
		withoutArch(specs.ArchX32, host.NoX32),
		withoutArch(specs.ArchX86, host.NoIA32),
		WithRlimits(req.Rlimits),
		WithMemory(req.Memory, req.MemorySwap),
		WithCPUShares(req.CPUShares),
		WithCPULimit(req.NanoCPUs, req.CPUQuota, req.CPUPeriod, host.CPUs),
		WithCpuset(req.CpusetCpus, req.CpusetMems),
		WithPidsLimit(req.PidsLimit),
		WithOOMScoreAdj(req.OOMScoreAdj),
		WithCgroupsPath(cgroupsPath(req.CgroupParent, host.CgroupsPath)),
		WithAnnotations(req.Annotations),
	)
}

// cgroupNamespace follows docker's default: a private cgroup namespace on
// cgroup v2 hosts, the host's on cgroup v1 hosts.
func cgroupNamespace(private bool) Opt {
	if private {
		return func(*specs.Spec) error { return nil }
	}
	return WithoutNamespace(specs.CgroupNamespace)
}

// cgroupsPath puts the container's cgroup below parent when one is given,
// else below dockless's own cgroup (a relative path).
func cgroupsPath(parent, own string) string {
	if parent != "" && own != "" {
		return path.Join(parent, path.Base(own))
	}
	return own
}

// CgroupParent is the cgroup parent asked for (Request.CgroupParent) of a
// spec Build made: the directory of its cgroups path when that is
// absolute; "" when it is dockless's own relative one, where docker too
// reports no parent.
func CgroupParent(s *specs.Spec) string {
	if s.Linux == nil || !path.IsAbs(s.Linux.CgroupsPath) {
		return ""
	}
	return path.Dir(s.Linux.CgroupsPath)
}
