package build

// Request is one build as the setuid dockless hands it to dockless-build:
// what the caller asked for, checked against the policy, and where the
// build's state and outputs are. It travels as JSON on a pipe, never
// through the environment or argv.
type Request struct {
	// Context is the context directory, "-" for a tar on stdin, or a
	// URL (ContextURL: git or tarball) that dockless-build fetches.
	Context string `json:"context"`
	// Dockerfile is the Dockerfile's path ("": Context/Dockerfile); with
	// a URL context, a path in the fetched context.
	Dockerfile string            `json:"dockerfile,omitempty"`
	Tags       []string          `json:"tags,omitempty"`
	BuildArgs  map[string]string `json:"buildArgs,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Target     string            `json:"target,omitempty"`
	NoCache    bool              `json:"noCache,omitempty"`
	Pull       bool              `json:"pull,omitempty"`
	// Network is RUN's network: "host" (default) or "none".
	Network string `json:"network,omitempty"`
	// Progress is auto, plain, tty or quiet.
	Progress string `json:"progress,omitempty"`
	// Outputs are the --output entries (type=oci|local|image, dest=...).
	Outputs []map[string]string `json:"outputs,omitempty"`
	// Push pushes every tag (--push).
	Push bool `json:"push,omitempty"`
	// Load writes an OCI tar of the image to LoadFD, which the
	// setuid dockless records in the node store (--load).
	Load bool `json:"load,omitempty"`
	// IIDFile receives the image's ID (written as the caller).
	IIDFile string `json:"iidFile,omitempty"`
	// State is the build's state directory, the caller's.
	State string `json:"state"`
	// Runtime is the runc-compatible program RUN steps run with.
	Runtime string `json:"runtime"`
	// MaxContextSize bounds the context's bytes ([build]
	// max_context_size; 0: none), checked by dockless-build.
	MaxContextSize int64 `json:"maxContextSize,omitempty"`
	// Quiet prints only the image ID (-q).
	Quiet bool `json:"quiet,omitempty"`
	// Rlimits are the caller's own resource limits.
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// CacheFrom and CacheTo are the --cache-from and --cache-to entries
	// (ParseCache), local directories written and read as the caller.
	CacheFrom []map[string]string `json:"cacheFrom,omitempty"`
	CacheTo   []map[string]string `json:"cacheTo,omitempty"`
	// Secrets are the --secret entries RUN --mount=type=secret reads.
	Secrets []Secret `json:"secrets,omitempty"`
	// SSH are the --ssh entries RUN --mount=type=ssh (and git@ contexts)
	// use.
	SSH []SSH `json:"ssh,omitempty"`
}

// Secret is one --secret: a file of the caller's, which dockless-build
// reads as them, or the value of one of their variables (env=), which
// only the setuid dockless sees.
type Secret struct {
	ID string `json:"id"`
	// Src is the file (absolute); "" for a variable's Value.
	Src   string `json:"src,omitempty"`
	Value string `json:"value,omitempty"`
}

// SSH is one --ssh: an agent's socket or key files of the caller's,
// which dockless-build opens as them.
type SSH struct {
	ID    string   `json:"id"`
	Paths []string `json:"paths"`
}

// Descriptors dockless-build gets from the setuid dockless, after stdio.
const (
	// RequestFD is the pipe the Request comes on.
	RequestFD = 3
	// LoadFD is the pipe the OCI tar of --load goes back on.
	LoadFD = 4
)
