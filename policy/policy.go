package policy

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/docker/go-units"
	"github.com/pelletier/go-toml/v2"
	"golang.org/x/net/http/httpproxy"
)

// DefaultPath is where the site policy lives. It is fixed when dockless is
// built (go build -ldflags "-X github.com/dockless/dockless/policy.DefaultPath=...")
// and never read from the environment; only root may name another file
// (--policy).
var DefaultPath = "/etc/dockless/dockless.toml"

// Policy is the site policy. Its zero value is not useful: start from
// Default() (the seed's wrapper) and overlay a file with Load.
type Policy struct {
	Store    Store    `toml:"store"`
	Job      Job      `toml:"job"`
	Volumes  Volumes  `toml:"volumes"`
	Registry Registry `toml:"registry"`
	Callers  Callers  `toml:"callers"`
	GPU      GPU      `toml:"gpu"`
	Hooks    Hooks    `toml:"hooks"`
	Build    Build    `toml:"build"`

	// Path is the file the policy was read from ("" for the defaults).
	Path string `toml:"-"`
}

// Store says where the node's image store and runtime state live.
type Store struct {
	Root              string `toml:"root"`
	State             string `toml:"state"`
	ContainerdAddress string `toml:"containerd_address"`
	// LayerDevices keeps device nodes that image layers contain; by
	// default they are dropped when layers are unpacked.
	LayerDevices bool `toml:"layer_devices"`
	// MaxSize caps the images' unpacked size (a docker size such as
	// "50G"; "" no cap): after a pull, the least recently used images no
	// container uses are removed until the store fits.
	MaxSize string `toml:"max_size"`
	// MaxImageSize bounds one image (a docker size; "" no bound): the
	// layer sizes its manifest declares and the bytes its layers unpack
	// to, counted while they are written.
	MaxImageSize string `toml:"max_image_size"`
	// MinFreeSpace is the free space a pull leaves on the store's file
	// system (a docker size; "" none): a blob or layer entry that would
	// take it below is refused before it is written.
	MinFreeSpace string `toml:"min_free_space"`
	// MaxImageFiles bounds the entries (files, directories, links) of one
	// image's layers (0: no bound): each is an inode of the store's file
	// system and time under the node lock while it is unpacked.
	MaxImageFiles int64 `toml:"max_image_files"`
	// SharedCache is the cluster's shared, read-only per-layer EROFS cache
	// on the parallel file system ("" off): layers found there by diff ID
	// are neither downloaded nor unpacked but mounted read-only; layers
	// missing there are published after their pull. The directory is
	// root's, mode 0711 (CheckSharedCache).
	SharedCache string `toml:"shared_cache"`
}

// Job is what every job container gets.
type Job struct {
	// Memory and MemorySwap are docker sizes ("4096m", "-1").
	Memory     string `toml:"memory"`
	MemorySwap string `toml:"memory_swap"`
	CPUShares  int64  `toml:"cpu_shares"`
	// Capabilities is the allow-list: jobs get exactly these (drop all,
	// add these), and no request may add others.
	Capabilities []string `toml:"capabilities"`
	// AmbientCapabilities makes Capabilities effective for the job user
	// (docker gives a non-root user only the bounding set).
	AmbientCapabilities bool `toml:"ambient_capabilities"`
	// AmbientCapabilitiesAcknowledged accepts that AmbientCapabilities with
	// capabilities beyond the resource ones gives them to the job user on
	// the node itself; without it such a policy is refused.
	AmbientCapabilitiesAcknowledged bool `toml:"i_understand_ambient_capabilities_give_host_privileges"`
	NoNewPrivileges                 bool `toml:"no_new_privileges"`
	// NoNewPrivilegesOffAcknowledged accepts that NoNewPrivileges off lets
	// setuid programs of a job's image make the job user root; without it
	// such a policy is refused.
	NoNewPrivilegesOffAcknowledged bool   `toml:"i_understand_no_new_privileges_off_gives_root"`
	SELinuxLabel                   string `toml:"selinux_label"`
	// Ulimits are docker --ulimit values ("memlock=-1").
	Ulimits []string `toml:"ulimits"`
	// Devices are host device nodes given to every job and the only ones
	// a request may name; missing ones are skipped with a warning.
	Devices []string `toml:"devices"`
	// Mounts are forced bind mounts "SRC[:DST][:ro]"; missing sources are
	// skipped with a warning.
	Mounts []string `toml:"mounts"`
	// Env is added to every job's environment.
	Env []string `toml:"env"`
	// LSFTop is the LSF tree, mounted at its own path.
	LSFTop string `toml:"lsf_top"`
	// AllowRoot lets containers run as uid 0.
	AllowRoot bool `toml:"allow_root"`
}

// Volumes restricts what users may bind into containers.
type Volumes struct {
	AllowedPrefixes []string `toml:"allowed_prefixes"`
	DirectoriesOnly bool     `toml:"directories_only"`
}

// Build is what `dockless build` may do on the node.
type Build struct {
	// Enabled allows dockless build (default true).
	Enabled bool `toml:"enabled"`
	// Root holds each caller's build state (<root>/<uid>, theirs); ""
	// is the store root's path with "-build".
	Root string `toml:"root"`
	// Network lists the RUN networks a build may ask for (host, none).
	Network []string `toml:"network"`
	// AllowedRegistries lists the registries a build may push to (empty:
	// those of [registry] allowed).
	AllowedRegistries []string `toml:"allowed_registries"`
	// AllowedContextHosts lists the hosts a context URL (git or tarball)
	// may name (empty: any, when Network lists host).
	AllowedContextHosts []string `toml:"allowed_context_hosts"`
	// MaxContextSize bounds the build context (a docker size; "" none).
	MaxContextSize string `toml:"max_context_size"`
	// SubuidFile and SubgidFile hold the callers' subordinate ids.
	SubuidFile string `toml:"subuid_file"`
	SubgidFile string `toml:"subgid_file"`
	// Runtime is the runc-compatible program RUN steps run with.
	Runtime string `toml:"runtime"`
	// LockTimeout bounds how long a build waits for the caller's other
	// build (a Go duration).
	LockTimeout string `toml:"lock_timeout"`
}

// Registry restricts where images come from.
type Registry struct {
	// Allowed lists registry hosts (docker.io, 127.0.0.1:5000); empty
	// allows any.
	Allowed    []string `toml:"allowed"`
	MirrorsDir string   `toml:"mirrors_dir"`
	// HTTPSProxy, HTTPProxy and NoProxy route registry connections as
	// the variables of the same names would (which a setuid dockless
	// ignores: they are the caller's). All empty: root's environment
	// decides for root, and no proxy for other callers. dockless-build
	// gets them as its variables (build.Runner).
	HTTPSProxy string `toml:"https_proxy"`
	HTTPProxy  string `toml:"http_proxy"`
	NoProxy    string `toml:"no_proxy"`
	// Offline uses cached images without asking the registry whether the
	// caller may still pull them (private images then become usable by
	// every user of the node who knows their name).
	Offline bool `toml:"offline"`
	// StallTimeout is how long a download may go with less than 64 KiB of
	// progress (a Go duration, "60s"): a pull gives its own stalled
	// download up, and stops waiting for another pull's and fetches the
	// blob itself.
	StallTimeout string `toml:"stall_timeout"`
	// RevalidateSeconds is how long the registry's answer about what an
	// image's tag points at stands on the node: within it, starting a
	// cached image does not ask the registry again whether the tag moved
	// (per user for private images; a user not known to be allowed is
	// asked about whatever the time). 0: every start asks.
	RevalidateSeconds int `toml:"revalidate_seconds"`
}

// Callers names users with more rights than a job user.
type Callers struct {
	// Trusted users may run containers as another user and set the
	// parent cgroup (e.g. an LSF admin account).
	Trusted []string `toml:"trusted"`
}

// GPU says where the node's CDI specs are and what of them dockless trusts.
type GPU struct {
	// CDISpecDirs are the directories of CDI specs (Container Device
	// Interface: nvidia-ctk cdi generate, dockless cdi generate), in
	// priority order (a later directory wins a name both define). Each
	// directory and spec file must be root-owned and not writable by group
	// or others.
	CDISpecDirs []string `toml:"cdi_spec_dirs"`
	// AllowedHooks are the only programs a CDI spec may name as a hook;
	// hooks run as root, so each must also be root-owned and not writable
	// by group or others.
	AllowedHooks []string `toml:"allowed_hooks"`
	// LSFIDKind says what LSF's integer GPU IDs are where a GPU's
	// nvidia-smi index and its device minor differ: "index" or "minor";
	// "" refuses a job whose IDs would name different GPUs either way.
	LSFIDKind string `toml:"lsf_id_kind"`
	// MPSHostIPC lets an LSF job whose GPUs run under MPS
	// (CUDA_MPS_PIPE_DIRECTORY) share the node's IPC namespace and
	// /dev/shm, which the MPS daemon LSF started uses; false refuses
	// such jobs.
	MPSHostIPC bool `toml:"mps_host_ipc"`
}

// Hooks says where the site's OCI hooks are (package hooks).
type Hooks struct {
	// Dirs are directories of hook files (containers/common's hooks.d
	// JSON, schema 1.0.0), in priority order (a later directory's file
	// masks a same-named one); each directory, file and hook program must
	// be root-owned and not writable by group or others.
	Dirs []string `toml:"dirs"`
}

// Default is the policy of the site's docker wrapper (the seed).
func Default() *Policy {
	return &Policy{
		Store: Store{Root: "/var/lib/dockless", State: "/run/dockless", MaxImageSize: "32G", MinFreeSpace: "1G", MaxImageFiles: 1000000},
		Job: Job{
			Memory:          "4096m",
			MemorySwap:      "-1",
			CPUShares:       2,
			Capabilities:    []string{"CHOWN", "KILL", "SETPCAP", "IPC_LOCK", "SYS_NICE"},
			NoNewPrivileges: true,
			SELinuxLabel:    "user_u:user_r:user_t:s0",
			Ulimits:         []string{"memlock=-1"},
			Devices: []string{
				"/dev/infiniband/issm0", "/dev/infiniband/rdma_cm", "/dev/infiniband/ucm0",
				"/dev/infiniband/umad0", "/dev/infiniband/uverbs0",
			},
			Mounts: []string{"/var/lib/sss/pipes", "/etc/nsswitch.conf", "/dev/log"},
			Env:    []string{"LSF_NIOS_JOBSTATUS_INTERVAL=1"},
			LSFTop: "/opt/ibm/lsfsuite/lsf",
		},
		Volumes:  Volumes{AllowedPrefixes: []string{"/storage1", "/storage2", "/scratch1"}, DirectoriesOnly: true},
		Registry: Registry{MirrorsDir: "/etc/dockless/certs.d", StallTimeout: "60s", RevalidateSeconds: 60},
		Build: Build{Enabled: true, Network: []string{"host", "none"}, MaxContextSize: "10G", SubuidFile: "/etc/subuid", SubgidFile: "/etc/subgid",
			Runtime: "/usr/sbin/runc", LockTimeout: "10m"},
		GPU: GPU{
			CDISpecDirs:  []string{"/etc/cdi", "/var/run/cdi"},
			AllowedHooks: []string{"/usr/bin/nvidia-cdi-hook", "/usr/bin/nvidia-ctk"},
			MPSHostIPC:   true,
		},
		Hooks: Hooks{Dirs: []string{"/etc/dockless/hooks.d"}},
	}
}

// Load reads the policy file at path over the defaults. A missing file at
// the default path means the defaults; any other path must exist. The file
// must be a regular file owned by root and writable by nobody else, every
// key must be known, and a switch that hands job users power over the node
// must be acknowledged (see checkConfinement).
func Load(path string) (*Policy, error) {
	p := Default()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) && path == DefaultPath {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("policy %s: not a regular file", path)
	case sys.Uid != 0:
		return nil, fmt.Errorf("policy %s: refused: owned by uid %d, must be owned by root (chown root %s)", path, sys.Uid, path)
	case st.Mode().Perm()&0o022 != 0:
		return nil, fmt.Errorf("policy %s: refused: writable by group or others (mode %04o): chmod go-w %s", path, st.Mode().Perm(), path)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	dec := toml.NewDecoder(&buf).DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return nil, fmt.Errorf("policy %s: unknown key: %s", path, sm.String())
		}
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	p.Path = path
	if err := p.Registry.checkProxies(); err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	if _, err := p.PullLimits(); err != nil {
		return nil, err
	}
	if err := p.GPU.check(); err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	if p.Registry.RevalidateSeconds < 0 {
		return nil, fmt.Errorf("policy %s: [registry] revalidate_seconds %d: a number of seconds, or 0 to ask the registry at every start", path, p.Registry.RevalidateSeconds)
	}
	if err := p.checkConfinement(); err != nil {
		return nil, err
	}
	if err := CheckSharedCache(p.Store.SharedCache); err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	if _, err := p.BuildLimits(); err != nil {
		return nil, err
	}
	return p, nil
}

// checkProxies refuses a proxy setting that is not a proxy URL: the HTTP
// client would go direct without a word.
func (r Registry) checkProxies() error {
	for _, kv := range [][2]string{{"https_proxy", r.HTTPSProxy}, {"http_proxy", r.HTTPProxy}} {
		if kv[1] == "" {
			continue
		}
		u, err := url.Parse(kv[1])
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") {
			return fmt.Errorf("[registry] %s %q: want a proxy URL such as http://proxy.example:3128 (http, https or socks5)", kv[0], kv[1])
		}
	}
	return nil
}

// check refuses GPU settings dockless cannot use: relative paths, an
// unknown kind of LSF GPU ID.
func (g GPU) check() error {
	for _, kv := range []struct {
		key   string
		paths []string
	}{{"cdi_spec_dirs", g.CDISpecDirs}, {"allowed_hooks", g.AllowedHooks}} {
		for _, p := range kv.paths {
			if !filepath.IsAbs(p) {
				return fmt.Errorf("[gpu] %s %q: must be an absolute path", kv.key, p)
			}
		}
	}
	switch g.LSFIDKind {
	case "", "index", "minor":
		return nil
	}
	return fmt.Errorf("[gpu] lsf_id_kind %q: want \"index\", \"minor\" or \"\" (refuse where they differ)", g.LSFIDKind)
}

// Proxy is the registry proxy configuration of [registry] https_proxy,
// http_proxy and no_proxy, or nil when none is set.
func (r Registry) Proxy() *httpproxy.Config {
	if r.HTTPSProxy == "" && r.HTTPProxy == "" && r.NoProxy == "" {
		return nil
	}
	return &httpproxy.Config{HTTPSProxy: r.HTTPSProxy, HTTPProxy: r.HTTPProxy, NoProxy: r.NoProxy}
}

// Source names where the policy came from, for messages.
func (p *Policy) Source() string {
	if p.Path == "" {
		return "the built-in default policy (" + DefaultPath + " absent)"
	}
	return p.Path
}

// MaxStoreSize is [store] max_size in bytes (0: no cap).
func (p *Policy) MaxStoreSize() (int64, error) {
	if p.Store.MaxSize == "" {
		return 0, nil
	}
	n, err := units.RAMInBytes(p.Store.MaxSize)
	if err == nil && n < 0 {
		err = errors.New("larger than 8 EiB")
	}
	if err != nil {
		return 0, fmt.Errorf("policy %s: [store] max_size %q: %w", p.Source(), p.Store.MaxSize, err)
	}
	return n, nil
}

// PullLimits are the bounds on one pull: [store] max_image_size,
// max_image_files and min_free_space, [registry] stall_timeout.
type PullLimits struct {
	MaxImageSize  int64 // 0: no bound
	MaxImageFiles int64 // 0: no bound
	MinFreeSpace  int64 // 0: none kept
	StallTimeout  time.Duration
}

// PullLimits parses the bounds on one pull (Load refuses a policy whose
// bounds do not parse).
func (p *Policy) PullLimits() (PullLimits, error) {
	var l PullLimits
	for _, v := range []struct {
		key, value string
		to         *int64
	}{{"[store] max_image_size", p.Store.MaxImageSize, &l.MaxImageSize}, {"[store] min_free_space", p.Store.MinFreeSpace, &l.MinFreeSpace}} {
		if v.value == "" {
			continue
		}
		n, err := units.RAMInBytes(v.value)
		if err != nil || n < 0 {
			return l, fmt.Errorf("policy %s: %s %q: a size such as \"32G\", or \"\" for none", p.Source(), v.key, v.value)
		}
		*v.to = n
	}
	if p.Store.MaxImageFiles < 0 {
		return l, fmt.Errorf("policy %s: [store] max_image_files %d: a number of files, or 0 for no bound", p.Source(), p.Store.MaxImageFiles)
	}
	l.MaxImageFiles = p.Store.MaxImageFiles
	d, err := time.ParseDuration(p.Registry.StallTimeout)
	if err != nil || d <= 0 {
		return l, fmt.Errorf("policy %s: [registry] stall_timeout %q: a positive duration such as \"60s\"", p.Source(), p.Registry.StallTimeout)
	}
	l.StallTimeout = d
	return l, nil
}

// CheckSharedCache refuses a [store] shared_cache that is not an absolute
// path, or that names an existing directory that is not root's or that
// another user could write: its files are kernel-mounted on every node.
// A directory not there yet is created, root's and 0711, by the first
// publication; one others may list is made 0711 when dockless first uses
// it (its files, 0600, hold the layers of private images).
func CheckSharedCache(dir string) error {
	if dir == "" {
		return nil
	}
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("[store] shared_cache %q: must be an absolute path", dir)
	}
	st, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("[store] shared_cache %s: %w", dir, err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.IsDir():
		return fmt.Errorf("[store] shared_cache %s: refused: not a directory", dir)
	case sys.Uid != 0:
		return fmt.Errorf("[store] shared_cache %s: refused: owned by uid %d, must be owned by root and mode 0711 (chown root %s; chmod 0711 %s)", dir, sys.Uid, dir, dir)
	case st.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("[store] shared_cache %s: refused: mode %04o lets other users write it, must be 0711 (chmod 0711 %s)", dir, st.Mode().Perm(), dir)
	}
	return nil
}
