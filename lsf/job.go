package lsf

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// JobAnnotation is the spec annotation of an LSF job's container: the job id.
const JobAnnotation = "io.dockless.lsf.job"

// PlaceHolder is LSF's command for "run the image's own ENTRYPOINT/CMD".
const PlaceHolder = "LSB_DOCKER_PLACE_HOLDER"

// Host is what the translation knows of the node it runs on.
type Host struct {
	Hostname string
	// Cwd is the job's working directory (where it was started).
	Cwd string
	// Pid is the job starter's process id, part of the container's name.
	Pid int
	// StdinTTY: the job has a terminal (bsub -Is/-Ip).
	StdinTTY bool
	// Exists reports whether a root-configured path (policy mounts,
	// devices, the LSF tree) exists on the node.
	Exists func(string) bool
	// Device reads a policy device node.
	Device func(string) (spec.Device, error)
	// GPUs reads the node's GPUs (its CDI spec) and what LSF set up for
	// them; called only for a job whose environment names GPUs.
	GPUs func() (GPUHost, error)
}

// Source is a user-named path to check and open with the user's rights
// before it is mounted (Job.Open).
type Source struct {
	What string
	Bind spec.Bind
	// VolumeRules: the policy's [volumes] rules apply (policy.VolumeRules):
	// volumes, the working directory, the spool directory.
	VolumeRules bool
	// Directory: only a directory may be bound (all but volumes, which
	// follow [volumes] directories_only).
	Directory bool
	// Owned: the path must belong to the user (the job tmpdir).
	Owned bool
	// OwnedOrPrefixed: the path must belong to the user or lie under the
	// [volumes] prefixes (the spool directory: LSF's own are the user's).
	OwnedOrPrefixed bool
	// Optional: a missing path is skipped with a warning (the home
	// directory: LSF itself runs jobs whose home is unreachable).
	Optional bool
	// Skippable: any refusal skips it with a warning (the working
	// directory when LSF_DOCKER_WORKDIR starts the job elsewhere).
	Skippable bool
	// Fix is added to a refusal: what the user can do about it.
	Fix string
}

// Job is the container of one LSF job, before anything is opened.
type Job struct {
	Req      *spec.Request
	Name     string
	Sources  []Source
	Warnings []string
	// EnvFiles and HostFiles are user-named files to read as the user
	// (LSF_DOCKER_ENV_FILE, LSF_DOCKER_ADD_HOST_FILE).
	EnvFiles, HostFiles []string
	// JobFile is the job script the command runs, if any.
	JobFile string
	// LogLevel is LSF_DOCKER_RUN_LOGLEVEL ("" when unset).
	LogLevel string
	// LoginOnly (LSB_DOCKER_LOGIN_ONLY=1): log in to LoginServer
	// (LSB_DOCKER_LOGIN_SERVER, default Docker Hub) and run nothing.
	LoginOnly   bool
	LoginServer string
	// GPUs is the job's GPU allocation on this host (nil: none); its CDI
	// devices are in Req.CDIDevices.
	GPUs *Allocation
}

// ContainerPrefix begins the names of the containers of LSF job jobID
// (lsf_<jobid>_<pid>), which `dockless lsf exec JOBID` finds them by.
func ContainerPrefix(jobID string) string { return NamePrefix + jobID + "_" }

// NamePrefix begins the names of LSF job containers, which only dockless
// lsf names: the docker front end refuses them to users, who could
// otherwise take the name of another user's next job first.
const NamePrefix = "lsf_"

// FromEnv builds the seed's job container from the LSF job environment,
// the job's arguments, the wrapper variables and the site policy. It
// reads nothing but host facts through h; every path it names is checked
// later (Job.Open).
func FromEnv(env map[string]string, args []string, pol *policy.Policy, caller *policy.Caller, h Host) (*Job, error) {
	if env["LSB_DOCKER_LOGIN_ONLY"] == "1" {
		// The site's docker_build application: only log in, interactively.
		return &Job{LoginOnly: true, LoginServer: env["LSB_DOCKER_LOGIN_SERVER"]}, nil
	}
	image := env["LSB_CONTAINER_IMAGE"]
	if image == "" {
		return nil, fmt.Errorf("LSB_CONTAINER_IMAGE is not set: submit with bsub -a 'docker(IMAGE)' or set it in the application profile")
	}
	jobID := env["LSB_JOBID"]
	if jobID == "" {
		return nil, fmt.Errorf("LSB_JOBID is not set: dockless lsf runs inside an LSF job (JOB_STARTER); use dockless run outside LSF")
	}
	job := &Job{Name: ContainerPrefix(jobID) + strconv.Itoa(h.Pid), LogLevel: env["LSF_DOCKER_RUN_LOGLEVEL"]}
	groups := append([]uint32{caller.GID}, caller.Groups...)
	slices.Sort(groups)
	job.Req = &spec.Request{
		Image:     image,
		User:      specs.User{UID: caller.UID, GID: caller.GID, AdditionalGids: slices.Compact(groups)},
		FixedUser: true,
		SiteJob:   true,
		Hostname:  h.Hostname,
		Tty:       h.StdinTTY,
		Network:   "host",
		CPUShares: uint64(max(pol.Job.CPUShares, 0)),
		// Site hooks match it (package hooks); no user sets annotations.
		Annotations: map[string]string{JobAnnotation: jobID},
	}
	for _, step := range []func() error{
		func() error { return jobResources(job.Req, pol) },
		func() error { return jobCommand(job, env, args) },
		func() error { return jobMounts(job, env, caller, pol, h) },
		func() error { return jobDevices(job, pol, h) },
		func() error { return jobEnvironment(job, env, pol, caller) },
		func() error { return jobWrapperVariables(job, env, caller, pol) },
		func() error { return jobGPUs(job, env, pol, h) },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return job, nil
}

// jobResources sets the policy's [job] memory, swap and ulimits.
func jobResources(req *spec.Request, pol *policy.Policy) error {
	var err error
	if pol.Job.Memory != "" {
		if req.Memory, err = spec.ParseMemory(pol.Job.Memory); err != nil {
			return fmt.Errorf("policy [job] memory %q: %w", pol.Job.Memory, err)
		}
	}
	if pol.Job.MemorySwap != "" {
		if req.MemorySwap, err = spec.ParseMemorySwap(pol.Job.MemorySwap); err != nil {
			return fmt.Errorf("policy [job] memory_swap %q: %w", pol.Job.MemorySwap, err)
		}
	}
	for _, u := range pol.Job.Ulimits {
		r, err := spec.ParseUlimit(u)
		if err != nil {
			return fmt.Errorf("policy [job] ulimits: %w", err)
		}
		req.Rlimits = append(req.Rlimits, r)
	}
	return nil
}

// jobDevices adds the policy's [job] devices that the node has.
func jobDevices(job *Job, pol *policy.Policy, h Host) error {
	for _, d := range pol.Job.Devices {
		if !h.Exists(d) {
			job.Warnings = append(job.Warnings, "device "+d+" is not on this node: skipped ([job] devices)")
			continue
		}
		dev, err := h.Device(d)
		if err != nil {
			return fmt.Errorf("policy [job] devices: %w", err)
		}
		job.Req.Devices = append(job.Req.Devices, dev)
	}
	return nil
}
