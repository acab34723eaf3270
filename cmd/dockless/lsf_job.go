package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// placeHolder is LSF's command for "run the image's own ENTRYPOINT/CMD".
const placeHolder = "LSB_DOCKER_PLACE_HOLDER"

// jobHost is what the LSF front end reads from the node, so tests can
// replace it.
type jobHost struct {
	Hostname string
	Cwd      string
	// StdinTTY: the job has a terminal (bsub -Is/-Ip).
	StdinTTY       bool
	CgroupV2       bool
	SELinuxEnabled bool
	// Exists reports whether a root-configured path (policy mounts,
	// devices, the LSF tree) exists on the node.
	Exists func(string) bool
	// Device reads a policy device node.
	Device func(string) (spec.Device, error)
}

// jobSource is a user-named path to check and open with the user's rights
// before it is mounted.
type jobSource struct {
	What     string
	Bind     spec.Bind
	Prefixes []string
	DirsOnly bool
	// Owned: the path must belong to the user (the job tmpdir).
	Owned bool
	// OwnedOrPrefixed: the path must belong to the user or lie under
	// Prefixes (the job spool directory: LSF's own are the user's).
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

// lsfJob is the container of one LSF job, before anything is opened.
type lsfJob struct {
	Req      *spec.Request
	Name     string
	Sources  []jobSource
	Warnings []string
	// Files are user-named files to read as the user: env files and
	// add-host files, by variable.
	EnvFiles, HostFiles []string
	// JobFile is the job script the command runs, if any.
	JobFile  string
	LogLevel string
	// LoginOnly (LSB_DOCKER_LOGIN_ONLY=1): log in to LoginServer
	// (LSB_DOCKER_LOGIN_SERVER, default Docker Hub) and run nothing.
	LoginOnly   bool
	LoginServer string
}

// lsfJobFromEnv builds the seed's job container from the LSF job
// environment, the wrapper variables and the site policy. It reads nothing
// but host facts through h; every path it names is checked later.
func lsfJobFromEnv(env map[string]string, args []string, n *node, h jobHost) (*lsfJob, error) {
	pol, caller := n.policy, n.caller
	if env["LSB_DOCKER_LOGIN_ONLY"] == "1" {
		// The site's docker_build application: only log in, interactively.
		return &lsfJob{LoginOnly: true, LoginServer: env["LSB_DOCKER_LOGIN_SERVER"]}, nil
	}
	image := env["LSB_CONTAINER_IMAGE"]
	if image == "" {
		return nil, usagef("LSB_CONTAINER_IMAGE is not set: submit with bsub -a 'docker(IMAGE)' or set it in the application profile")
	}
	jobID := env["LSB_JOBID"]
	if jobID == "" {
		return nil, usagef("LSB_JOBID is not set: dockless lsf runs inside an LSF job (JOB_STARTER); use dockless run outside LSF")
	}
	job := &lsfJob{
		Name:     fmt.Sprintf("lsf_%s_%d", jobID, os.Getpid()),
		LogLevel: env["LSF_DOCKER_RUN_LOGLEVEL"],
	}
	caps, err := pol.Capabilities()
	if err != nil {
		return nil, err
	}
	groups := append([]uint32{caller.GID}, caller.Groups...)
	slices.Sort(groups)
	groups = slices.Compact(groups)
	req := &spec.Request{
		Image:               image,
		User:                specs.User{UID: caller.UID, GID: caller.GID, AdditionalGids: groups},
		FixedUser:           true,
		Hostname:            h.Hostname,
		Tty:                 h.StdinTTY,
		Network:             "host",
		CapBase:             caps,
		AmbientCapabilities: pol.Job.AmbientCapabilities,
		NoNewPrivileges:     pol.Job.NoNewPrivileges,
		SELinuxLabel:        pol.Job.SELinuxLabel,
		SELinuxEnabled:      h.SELinuxEnabled,
		PrivateCgroupNS:     h.CgroupV2,
		CPUShares:           uint64(max(pol.Job.CPUShares, 0)),
	}
	job.Req = req
	if err := jobResources(req, pol); err != nil {
		return nil, err
	}
	if err := jobCommand(job, env, args); err != nil {
		return nil, err
	}
	if err := jobMounts(job, env, caller, pol, h); err != nil {
		return nil, err
	}
	for _, d := range pol.Job.Devices {
		if !h.Exists(d) {
			job.Warnings = append(job.Warnings, "device "+d+" is not on this node: skipped ([job] devices)")
			continue
		}
		dev, err := h.Device(d)
		if err != nil {
			return nil, fmt.Errorf("policy [job] devices: %w", err)
		}
		req.Devices = append(req.Devices, dev)
	}
	if err := jobEnvironment(job, env, pol, caller); err != nil {
		return nil, err
	}
	return job, jobWrapperVariables(job, env, caller, pol)
}

func jobResources(req *spec.Request, pol *policy.Policy) error {
	var err error
	if pol.Job.Memory != "" {
		if req.Memory, err = units.RAMInBytes(pol.Job.Memory); err != nil {
			return fmt.Errorf("policy [job] memory %q: %w", pol.Job.Memory, err)
		}
	}
	if pol.Job.MemorySwap != "" {
		if req.MemorySwap, err = sizeOrUnlimited(pol.Job.MemorySwap); err != nil {
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

// jobCommand decides what the container runs. The job file (or command) is
// run by /bin/sh whatever the image's ENTRYPOINT, unless
// LSF_DOCKER_ENTRYPOINT names another; LSB_DOCKER_PLACE_HOLDER and
// LSF_DOCKER_RUN_RAW_ARGS=1 run the image's own ENTRYPOINT and CMD.
func jobCommand(job *lsfJob, env map[string]string, args []string) error {
	req := job.Req
	raw := env["LSF_DOCKER_RUN_RAW_ARGS"] == "1"
	switch {
	case len(args) == 1 && args[0] == placeHolder, raw && len(args) == 0:
		return nil
	case raw:
		req.Cmd = args
		return nil
	case len(args) == 0:
		return usagef("no job command: give the job file or command, or %s to run the image's own ENTRYPOINT/CMD", placeHolder)
	}
	if ep := env["LSF_DOCKER_ENTRYPOINT"]; ep != "" {
		if !strings.HasPrefix(ep, "/") {
			return usagef("LSF_DOCKER_ENTRYPOINT=%s: must be an absolute path in the image", ep)
		}
		req.EntrypointSet, req.Entrypoint, req.Cmd = true, []string{ep}, args
		return nil
	}
	req.EntrypointSet = true
	if filepath.IsAbs(args[0]) {
		job.JobFile = args[0]
		req.Cmd = append([]string{"/bin/sh"}, args...)
	} else {
		req.Cmd = []string{"/bin/sh", "-c", strings.Join(args, " ")}
	}
	return nil
}

// jobMounts lays out the seed's mounts: the LSF tree, home, cwd, spool,
// the job tmpdir at /tmp and at its own path, the policy's forced mounts,
// then LSF_DOCKER_VOLUMES. The working directory is bound like a volume:
// under [volumes] allowed_prefixes unless the home or the job tmpdir holds
// it; the job file's directory must be the user's or under the prefixes.
func jobMounts(job *lsfJob, env map[string]string, caller *policy.Caller, pol *policy.Policy, h jobHost) error {
	req := job.Req
	covered := []string{}
	isCovered := func(p string) bool {
		for _, c := range covered {
			if p == c || strings.HasPrefix(p, strings.TrimSuffix(c, "/")+"/") {
				return true
			}
		}
		return false
	}
	userDir := func(src jobSource) error {
		p := src.Bind.Source
		if p == "" || p == "/" || isCovered(p) {
			return nil
		}
		dst, err := spec.Destination(p)
		if err != nil {
			return usagef("%s %s: %v", src.What, p, err)
		}
		src.Bind.Destination, src.Bind.User = dst, true
		job.Sources = append(job.Sources, src)
		covered = append(covered, dst)
		return nil
	}
	if top := pol.Job.LSFTop; top != "" {
		dst, err := spec.Destination(top)
		if err != nil {
			return fmt.Errorf("policy [job] lsf_top: %w", err)
		}
		if h.Exists(top) {
			req.Mounts = append(req.Mounts, spec.Bind{Source: top, Destination: dst})
		} else {
			job.Warnings = append(job.Warnings, "LSF tree "+top+" is not on this node: not mounted ([job] lsf_top)")
		}
	}
	if err := userDir(jobSource{What: "home directory", Bind: spec.Bind{Source: caller.Home}, Optional: true}); err != nil {
		return err
	}
	if tmp := jobTmpdir(env); tmp != "" {
		if _, err := spec.Destination(tmp); err != nil {
			return usagef("the job tmpdir %s: %v", tmp, err)
		}
		job.Sources = append(job.Sources,
			jobSource{What: "job tmpdir", Bind: spec.Bind{Source: tmp, Destination: "/tmp", User: true}, Owned: true},
			jobSource{What: "job tmpdir", Bind: spec.Bind{Source: tmp, Destination: tmp, User: true}, Owned: true})
		covered = append(covered, tmp)
	}
	req.Workdir = h.Cwd
	wd := env["LSF_DOCKER_WORKDIR"]
	if wd != "" {
		if !strings.HasPrefix(wd, "/") {
			return usagef("LSF_DOCKER_WORKDIR=%s: must be an absolute path", wd)
		}
		req.Workdir = wd
	}
	if err := userDir(jobSource{What: "working directory", Bind: spec.Bind{Source: h.Cwd}, Prefixes: pol.Volumes.AllowedPrefixes,
		Skippable: wd != "",
		Fix: "the job's working directory is bound like a volume ([volumes] allowed_prefixes in " + pol.Source() +
			"): submit the job from your home, the job tmpdir or a directory under an allowed prefix, or set LSF_DOCKER_WORKDIR to start it elsewhere"}); err != nil {
		return err
	}
	if job.JobFile != "" {
		if err := userDir(jobSource{What: "job spool directory", Bind: spec.Bind{Source: filepath.Dir(job.JobFile)}, Prefixes: pol.Volumes.AllowedPrefixes, OwnedOrPrefixed: true,
			Fix: "the job file's directory is bound read-write: it must be yours (LSF's spool directories are) or under [volumes] allowed_prefixes in " + pol.Source()}); err != nil {
			return err
		}
	}
	for _, m := range pol.Job.Mounts {
		b, err := parseVolume(m)
		if err != nil {
			return fmt.Errorf("policy [job] mounts: %w", err)
		}
		if !h.Exists(b.Source) {
			job.Warnings = append(job.Warnings, "mount "+b.Source+" is not on this node: skipped ([job] mounts)")
			continue
		}
		req.Mounts = append(req.Mounts, b)
	}
	for _, v := range strings.Fields(env["LSF_DOCKER_VOLUMES"]) {
		b, err := parseVolume(v)
		if err != nil {
			return usagef("LSF_DOCKER_VOLUMES: %w", err)
		}
		b.User = true
		job.Sources = append(job.Sources, jobSource{What: "volume", Bind: b, Prefixes: pol.Volumes.AllowedPrefixes, DirsOnly: pol.Volumes.DirectoriesOnly})
	}
	return nil
}

// jobTmpdir is the job's tmpdir: $TMPDIR when LSF made it
// (<LSB_JOB_TMPDIR>/<jobid>[_<index>].tmpdir), else derived from
// LSB_JOB_TMPDIR.
func jobTmpdir(env map[string]string) string {
	name := env["LSB_JOBID"] + ".tmpdir"
	if idx := env["LSB_JOBINDEX"]; idx != "" && idx != "0" {
		name = env["LSB_JOBID"] + "_" + idx + ".tmpdir"
	}
	if t := env["TMPDIR"]; filepath.Base(t) == name {
		return filepath.Clean(t)
	}
	if base := env["LSB_JOB_TMPDIR"]; base != "" {
		if filepath.Base(base) == name {
			return filepath.Clean(base)
		}
		return filepath.Join(base, name)
	}
	return ""
}

// parseVolume reads SRC[:DST][:ro|rw], the destination normalised.
func parseVolume(v string) (spec.Bind, error) {
	parts := strings.Split(v, ":")
	b := spec.Bind{Source: parts[0], Destination: parts[0]}
	switch len(parts) {
	case 1:
	case 2:
		if parts[1] == "ro" || parts[1] == "rw" {
			b.ReadOnly = parts[1] == "ro"
		} else {
			b.Destination = parts[1]
		}
	case 3:
		if parts[2] != "ro" && parts[2] != "rw" {
			return b, fmt.Errorf("%q: option %q is not supported (ro or rw)", v, parts[2])
		}
		b.Destination, b.ReadOnly = parts[1], parts[2] == "ro"
	default:
		return b, fmt.Errorf("%q: want SRC[:DST][:ro]", v)
	}
	if !filepath.IsAbs(b.Source) {
		return b, fmt.Errorf("%q: paths must be absolute", v)
	}
	dst, err := spec.Destination(b.Destination)
	if err != nil {
		return b, fmt.Errorf("%q: %w", v, err)
	}
	b.Destination = dst
	return b, nil
}

// minimalEnv are the variables kept when LSF_DOCKER_PRESERVE_ENVIRONMENT
// is false, besides every LSB_* and LSF_* variable.
var minimalEnv = []string{"HOME", "USER", "LOGNAME", "TERM", "LANG", "TZ", "TMPDIR", "DISPLAY"}

// jobEnvironment passes the job environment as the seed's wrapper did,
// with one change: the node's PATH is not passed (it would hide the image's
// ENV PATH, the users' top complaint); the image's PATH is kept and LSF's
// bin directory appended, so bsub and friends still work.
func jobEnvironment(job *lsfJob, env map[string]string, pol *policy.Policy, caller *policy.Caller) error {
	preserve := true
	switch v := strings.ToLower(env["LSF_DOCKER_PRESERVE_ENVIRONMENT"]); v {
	case "", "true", "1", "yes", "y":
	case "false", "0", "no", "n":
		preserve = false
	default:
		return usagef("LSF_DOCKER_PRESERVE_ENVIRONMENT=%s: use true or false", v)
	}
	req := job.Req
	for _, k := range sortedKeys(env) {
		v := env[k]
		switch {
		case k == "HOSTNAME", k == "LSB_INTERACTIVE", k == "PATH", k == "",
			strings.HasPrefix(k, "BASH_FUNC_"), strings.ContainsAny(v, "\n"), strings.ContainsAny(k, "= \t\n"):
			continue
		case !preserve && !slices.Contains(minimalEnv, k) && !strings.HasPrefix(k, "LSB_") && !strings.HasPrefix(k, "LSF_") && !strings.HasPrefix(k, "LC_"):
			continue
		}
		req.Env = append(req.Env, k+"="+v)
	}
	if _, ok := env["HOME"]; !ok || !preserve {
		req.Env = append(req.Env, "HOME="+caller.Home)
	}
	if bin := env["LSF_BINDIR"]; bin != "" {
		req.PathAppend = []string{bin}
	}
	job.EnvFiles = strings.Fields(env["LSF_DOCKER_ENV_FILE"])
	req.Env = append(req.Env, pol.Job.Env...)
	return nil
}

// jobWrapperVariables applies the remaining LSF_DOCKER_* variables.
func jobWrapperVariables(job *lsfJob, env map[string]string, caller *policy.Caller, pol *policy.Policy) error {
	req := job.Req
	if v := env["LSF_DOCKER_NETWORK"]; v != "" {
		if v != "host" && v != "none" {
			return usagef("LSF_DOCKER_NETWORK=%s is not supported: use host (the default) or none", v)
		}
		req.Network = v
	}
	if v := env["LSF_DOCKER_IPC"]; v != "" {
		if v != "host" && v != "private" {
			return usagef("LSF_DOCKER_IPC=%s is not supported: use host or private", v)
		}
		req.IPC = v
	}
	if v := env["LSF_DOCKER_SHM_SIZE"]; v != "" {
		size, err := units.RAMInBytes(v)
		if err != nil || size <= 0 {
			return usagef("LSF_DOCKER_SHM_SIZE=%s: want a size such as 20G", v)
		}
		req.ShmSize = size
	}
	if v := env["LSF_DOCKER_PORTS"]; v != "" {
		if err := checkPorts(v, req.Network); err != nil {
			return err
		}
	}
	for _, hp := range strings.Fields(env["LSF_DOCKER_ADD_HOST"]) {
		hosts, err := addHosts([]string{hp})
		if err != nil {
			return usagef("LSF_DOCKER_ADD_HOST: %w", err)
		}
		req.AddHosts = append(req.AddHosts, hosts...)
	}
	job.HostFiles = strings.Fields(env["LSF_DOCKER_ADD_HOST_FILE"])
	if v := env["LSF_DOCKER_CGROUP"]; v != "" {
		if !pol.Trusted(caller) {
			return usagef("LSF_DOCKER_CGROUP=%s: refused by [callers] trusted in %s: only trusted callers may place a job in another cgroup", v, pol.Source())
		}
		if !strings.HasPrefix(v, "/") {
			return usagef("LSF_DOCKER_CGROUP=%s: must be an absolute cgroup path", v)
		}
		req.CgroupParent = v
	}
	if v := job.LogLevel; v != "" && levelIndex(v) < 0 {
		return usagef("LSF_DOCKER_RUN_LOGLEVEL=%s: use one of %s", v, strings.Join(logLevels, " "))
	}
	return nil
}

// checkPorts validates LSF_DOCKER_PORTS (docker -p forms, host ports
// 8000-8999) and then refuses it: publishing needs a bridge network.
func checkPorts(v, network string) error {
	for _, p := range strings.Fields(v) {
		spec, _, _ := strings.Cut(p, "/")
		host := spec
		if i := strings.LastIndex(spec, ":"); i >= 0 {
			host = spec[:i]
			if j := strings.LastIndex(host, ":"); j >= 0 {
				host = host[j+1:]
			}
		}
		lo, hi, isRange := strings.Cut(host, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a > b {
			return usagef("LSF_DOCKER_PORTS: %q is not a docker port mapping (8001, 8001:80, 8000-8010:80-90, /tcp, /udp)", p)
		}
		if a < 8000 || b > 8999 {
			return usagef("LSF_DOCKER_PORTS: host port %s is outside 8000-8999", host)
		}
	}
	if network == "host" {
		return usagef("LSF_DOCKER_PORTS: ports cannot be published with the host network (the default): the job's ports are the node's already; listen on 8000-8999")
	}
	return usagef("LSF_DOCKER_PORTS: publishing ports needs a bridge network, which dockless does not implement yet")
}
