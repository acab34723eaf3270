package spec

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Host is what Build needs besides the request: facts of the node and what
// the lifecycle decided for this container. No front end sets it.
type Host struct {
	// Rootfs is the path of the mounted root filesystem.
	Rootfs string
	// EtcDir holds the generated hosts, hostname and resolv.conf files.
	EtcDir string
	// CgroupsPath is the container's cgroup (relative: below dockless's
	// own, or below the request's CgroupParent).
	CgroupsPath string
	// User is the process's identity: the request's User when FixedUser,
	// else its UserSpec and GroupAdd resolved against the image
	// (ResolveUser).
	User specs.User
	// CgroupV2: the node runs the unified hierarchy, where the container
	// gets its own cgroup namespace (docker's default there).
	CgroupV2 bool
	// SELinux: the node enforces SELinux, so a process label applies.
	SELinux bool
	// CPUs is the number of CPUs of the node (0: unknown), the bound of
	// --cpus.
	CPUs int
	// InitPath is the init program a request's Init binds into the
	// container (dockless-init: runtime/reaper); "" when the node has none.
	InitPath string
	// NoX32: the kernel takes no x32 system calls (deadarch.KernelTakesX32),
	// so a seccomp profile's x32 architecture is left out of the filter.
	NoX32 bool
	// NoIA32: the kernel runs no 32-bit x86 program or system call
	// (deadarch.KernelRunsIA32), so a profile's x86 architecture is left
	// out of the filter.
	NoIA32 bool
}
