package spec

import (
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Request is the neutral description of one container that every front end
// (docker flags, LSF job) produces and that Build turns into a runtime spec:
// only what was asked for. What the node and the lifecycle decide (where
// the rootfs is, the cgroup, the resolved user, whether SELinux is on) is
// Build's Host. Fields hold parsed, validated values; strings keep docker's
// spelling where docker has one.
type Request struct {
	// Image is the image reference as the caller wrote it.
	Image string
	// Entrypoint overrides the image ENTRYPOINT when EntrypointSet is true
	// (docker's --entrypoint; an empty Entrypoint clears it and the image CMD).
	Entrypoint    []string
	EntrypointSet bool
	// Cmd overrides the image CMD when non-empty.
	Cmd []string

	// UserSpec is docker's --user as given ("" means the image's USER, then
	// root); GroupAdd its --group-add entries (names or gids).
	UserSpec string
	GroupAdd []string
	// User is the identity the front end decided (the LSF job user) when
	// FixedUser is set; then the image's passwd is not consulted.
	// Otherwise Host.User is UserSpec resolved against the image.
	User      specs.User
	FixedUser bool
	// SiteJob marks the site's job container (LSF): the policy's [job]
	// settings (capabilities, no-new-privileges, label) apply to it
	// whoever asks, not only to callers who are not trusted.
	SiteJob bool

	// Env holds KEY=VALUE pairs (env files first, then -e), applied over the
	// image's ENV; a bare KEY removes KEY (docker's -e KEY when the caller
	// has no KEY).
	Env []string
	// PathAppend are directories appended to the final PATH (after the
	// image's ENV and the request's Env), e.g. LSF's bin directory.
	PathAppend []string
	// Workdir overrides the image WORKDIR when non-empty.
	Workdir string
	// Hostname is the container's host name (UTS namespace).
	Hostname string

	// Mounts are the bind mounts, each destination as Destination returns
	// it and none twice; a user's bind carries its checked source.
	Mounts []Bind
	// Tmpfs are tmpfs mounts (docker's --tmpfs and --mount type=tmpfs), at
	// destinations no bind has.
	Tmpfs []Tmpfs
	// ReadOnly makes the root filesystem read-only.
	ReadOnly bool
	// Tty allocates a pseudo-terminal for the process.
	Tty bool
	// Init runs dockless's own init (Host.InitPath) as the container's
	// PID 1, which starts the command, forwards signals to it and reaps
	// orphans (docker's --init).
	Init bool

	// Network is the network mode: "host" or "none".
	Network string
	// AddHosts are extra /etc/hosts entries as "HOST IP" pairs
	// (docker's --add-host HOST:IP), already validated.
	AddHosts []HostEntry
	// DNS, DNSSearch and DNSOptions replace the name servers, search
	// domains ("." for none) and options of the container's resolv.conf
	// (docker's --dns, --dns-search, --dns-option).
	DNS, DNSSearch, DNSOptions []string
	// IPC is the IPC mode: "" or "private", "shareable" (private: dockless
	// joins no container to another), or "host".
	IPC string
	// ShmSize is the size of /dev/shm in bytes (0: docker's 64 MiB).
	ShmSize int64

	// Memory and MemorySwap are docker's -m and --memory-swap in bytes
	// (0: unset; MemorySwap -1: unlimited swap).
	Memory, MemorySwap int64
	// CPUShares is docker's --cpu-shares (0: unset).
	CPUShares uint64
	// NanoCPUs is docker's --cpus in billionths of a CPU; CPUQuota and
	// CPUPeriod its --cpu-quota and --cpu-period in microseconds (0: unset).
	NanoCPUs, CPUQuota, CPUPeriod int64
	// CpusetCpus and CpusetMems are docker's --cpuset-cpus and
	// --cpuset-mems ("": unset).
	CpusetCpus, CpusetMems string
	// PidsLimit is docker's --pids-limit (nil: unset; 0 or less: unlimited).
	PidsLimit *int64
	// OOMScoreAdj is docker's --oom-score-adj (nil: the caller's, inherited).
	OOMScoreAdj *int

	// CapBase is the capability set CapAdd and CapDrop apply to; nil means
	// docker's default set. The site policy sets it for job containers.
	CapBase []string
	// CapAdd and CapDrop follow docker's --cap-add / --cap-drop ("ALL" allowed).
	CapAdd, CapDrop []string
	// AmbientCapabilities makes the capabilities effective for a non-root
	// user (through the ambient set) instead of bounding-only.
	AmbientCapabilities bool
	// NoNewPrivileges sets the no_new_privs bit.
	NoNewPrivileges bool
	// SELinuxLabel is the process label; applied only where the node
	// enables SELinux (Host.SELinux).
	SELinuxLabel string
	// SeccompProfile is "" for docker's default profile, "unconfined" for
	// none, or the JSON text of a docker seccomp profile.
	SeccompProfile string

	// Devices are host device nodes to create in the container.
	Devices []Device
	// CDIDevices are CDI devices by qualified name (nvidia.com/gpu=0):
	// the lifecycle applies what the site's CDI specs ([gpu] cdi_spec_dirs)
	// list for them (device nodes, mounts, environment, hooks). Front ends
	// only ever name devices here, never host paths; for callers who are
	// not trusted they are the caller's LSF GPU allocation (lsf.GPUs).
	CDIDevices []string
	// Rlimits are the process resource limits (docker's --ulimit).
	Rlimits []specs.POSIXRlimit

	// Labels are docker's --label metadata, kept in the container's record.
	Labels map[string]string
	// Annotations are the spec's annotations dockless's front ends set
	// (io.dockless.lsf.*, which site hooks match); no flag sets them.
	Annotations map[string]string
	// StopSignal is the signal `dockless stop` sends first (0: SIGTERM);
	// StopTimeout how many seconds it then waits before SIGKILL (nil: the
	// stop command's; -1: no SIGKILL). docker's --stop-signal and
	// --stop-timeout.
	StopSignal  int
	StopTimeout *int

	// CgroupParent is an absolute cgroup to create the container below
	// instead of dockless's own (docker's --cgroup-parent,
	// LSF_DOCKER_CGROUP); trusted callers only.
	CgroupParent string
}

// Bind is one bind mount from the host into the container.
type Bind struct {
	// Source is the host path. A site's bind (policy, generated files) is
	// mounted from it; a user's bind never is: there it only names the
	// path in messages.
	Source string
	// Destination is the path in the container, as Destination returns it.
	Destination string
	ReadOnly    bool
	// User marks a path the user named (volumes, home, working directory,
	// job tmpdir). Its source is Checked, opened with the user's rights by
	// the front end; the launcher mounts that handle at Staged, a path
	// only root can reach, and the spec mounts Staged. WithMounts refuses a
	// user's bind that was not staged, so a user's path never reaches the
	// runtime.
	User    bool
	Checked *os.File
	Staged  string
}

// CloseBinds closes the checked sources of binds (the front end opened
// them; it closes them once the container is gone).
func CloseBinds(binds []Bind) {
	for i := range binds {
		if binds[i].Checked != nil {
			binds[i].Checked.Close()
			binds[i].Checked = nil
		}
	}
}

// Device is one host device node exposed in the container.
type Device struct {
	// Path is the path inside the container; HostPath the node on the host.
	Path, HostPath string
	// Type is "c" or "b"; Major and Minor its numbers; FileMode its mode.
	Type         string
	Major, Minor int64
	FileMode     uint32
	UID, GID     uint32
	// Permissions is docker's cgroup permission string ("rwm" by default).
	Permissions string
}

// Tmpfs is one tmpfs mount in the container.
type Tmpfs struct {
	// Destination is the path in the container, as Destination returns it.
	Destination string
	// Options are tmpfs mount options (size=, mode=, ro…), after docker's
	// defaults noexec, nosuid, nodev.
	Options []string
}

// HostEntry is one extra /etc/hosts line.
type HostEntry struct {
	Host, IP string
}
