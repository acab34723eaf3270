package main

import (
	"strconv"
	"strings"

	"github.com/dockless/dockless/container"
	"github.com/dockless/dockless/images"
	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
	"github.com/urfave/cli/v2"
)

// runFromFlags turns the run flags into a neutral request and the run's
// options, each docker value read by its one parser (spec, images).
func (a *app) runFromFlags(c *cli.Context) (*spec.Request, container.Options, error) {
	args := c.Args().Slice()
	req := &spec.Request{
		Image:    args[0],
		Cmd:      args[1:],
		UserSpec: c.String("user"),
		GroupAdd: c.StringSlice("group-add"),
		Hostname: c.String("hostname"),
		ReadOnly: c.Bool("read-only"),
		Tty:      c.Bool("tty"),
		CapAdd:   c.StringSlice("cap-add"),
		CapDrop:  c.StringSlice("cap-drop"),
	}
	opts := container.Options{Name: c.String("name"), CIDFile: c.String("cidfile")}
	opts.Progress, opts.Bars = progress(c.Bool("quiet"))
	if c.IsSet("entrypoint") {
		req.EntrypointSet = true
		if ep := c.String("entrypoint"); ep != "" {
			req.Entrypoint = []string{ep}
		}
	}
	var err error
	if opts.Pull, err = images.ParsePullPolicy(c.String("pull")); err != nil {
		return nil, opts, flagError("--pull", c.String("pull"), err)
	}
	for _, parse := range []func(*cli.Context, *spec.Request) error{
		modes, a.environment, mounts, a.securityOptions, resources, a.devices,
	} {
		if err := parse(c, req); err != nil {
			return nil, opts, err
		}
	}
	return req, opts, nil
}

// flagError is a value of a flag its parser refused.
func flagError(flag, value string, err error) error {
	return usagef("invalid %s %q: %w", flag, value, err)
}

// modes reads the network, IPC, working directory and cgroup parent.
func modes(c *cli.Context, req *spec.Request) error {
	var err error
	if req.Network, err = spec.ParseNetwork(c.String("network")); err != nil {
		return flagError("--network", c.String("network"), err)
	}
	if req.IPC, err = spec.ParseIPC(c.String("ipc")); err != nil {
		return flagError("--ipc", c.String("ipc"), err)
	}
	if v := c.String("workdir"); v != "" {
		if req.Workdir, err = spec.ParseWorkdir(v); err != nil {
			return usageError{err}
		}
	}
	if v := c.String("cgroup-parent"); v != "" {
		if req.CgroupParent, err = spec.ParseCgroupParent(v); err != nil {
			return flagError("--cgroup-parent", v, err)
		}
	}
	for _, v := range c.StringSlice("add-host") {
		h, err := spec.ParseAddHost(v)
		if err != nil {
			return flagError("--add-host", v, err)
		}
		req.AddHosts = append(req.AddHosts, h)
	}
	return nil
}

// environment merges --env-file files (in order, read with the caller's
// rights) and then -e entries; a bare KEY takes its value from the
// caller's environment, as docker does.
func (a *app) environment(c *cli.Context, req *spec.Request) error {
	env, err := a.envFlags(c)
	req.Env = env
	return err
}

// envFlags reads -e and --env-file (run and exec).
func (a *app) envFlags(c *cli.Context) ([]string, error) {
	var out []string
	for _, f := range c.StringSlice("env-file") {
		vars, err := readEnvFile(a.caller, f)
		if err != nil {
			return nil, err
		}
		out = append(out, vars...)
	}
	for _, e := range c.StringSlice("env") {
		key, _, ok := strings.Cut(e, "=")
		if key == "" || strings.ContainsAny(key, " \t\n") {
			return nil, usagef("invalid -e %q: want KEY=VALUE or KEY", e)
		}
		if !ok {
			v, set := a.caller.LookupEnv(key)
			if !set {
				continue
			}
			e = key + "=" + v
		}
		out = append(out, e)
	}
	return out, nil
}

// readEnvFile reads a docker env file with the caller's rights.
func readEnvFile(caller *policy.Caller, path string) ([]string, error) {
	f, err := policy.OpenFile(caller, "--env-file", path)
	if err != nil {
		return nil, usageError{err}
	}
	defer f.Close()
	vars, err := spec.ParseEnvFile(f, caller.LookupEnv)
	if err != nil {
		return nil, usagef("--env-file %s: %w", path, err)
	}
	return vars, nil
}

// mounts reads -v and --mount into the user's binds; the same destination
// twice is refused, as docker does. openSources checks and opens them.
func mounts(c *cli.Context, req *spec.Request) error {
	seen := map[string]bool{}
	add := func(b spec.Bind) error {
		if seen[b.Destination] {
			return usagef("Duplicate mount point: %s", b.Destination)
		}
		seen[b.Destination] = true
		req.Mounts = append(req.Mounts, b)
		return nil
	}
	for _, v := range c.StringSlice("volume") {
		b, err := spec.ParseVolume(v)
		if err != nil {
			return flagError("-v", v, err)
		}
		if err := add(b); err != nil {
			return err
		}
	}
	for _, m := range c.StringSlice("mount") {
		b, err := spec.ParseMount(m)
		if err != nil {
			return flagError("--mount", m, err)
		}
		if err := add(b); err != nil {
			return err
		}
	}
	return nil
}

// openSources checks every source of the user's binds with the caller's
// rights under the [volumes] rules (policy.VolumeRules) and keeps the
// opened handle in the bind. On error every handle opened so far is
// closed; otherwise spec.CloseBinds closes them.
func (a *app) openSources(binds []spec.Bind) error {
	prefixes, dirsOnly := a.node.Policy.VolumeRules(a.caller)
	for i := range binds {
		src, err := policy.OpenSource(a.caller, "volume", binds[i].Source, prefixes, dirsOnly)
		if err != nil {
			spec.CloseBinds(binds)
			return usageError{err}
		}
		binds[i].Checked = src.File
	}
	return nil
}

// securityOptions applies docker's --security-opt values; a seccomp
// profile file is read with the caller's rights.
func (a *app) securityOptions(c *cli.Context, req *spec.Request) error {
	var label []string
	for _, o := range c.StringSlice("security-opt") {
		k, v, hasValue := strings.Cut(o, "=")
		if !hasValue {
			k, v, hasValue = strings.Cut(o, ":")
		}
		switch k {
		case "no-new-privileges":
			on := true
			if hasValue {
				var err error
				if on, err = strconv.ParseBool(v); err != nil {
					return usagef("invalid --security-opt %q: want no-new-privileges[=true|false]", o)
				}
			}
			req.NoNewPrivileges = on
		case "label":
			if v == "disable" {
				label = nil
				continue
			}
			label = append(label, v)
		case "seccomp":
			if err := a.seccomp(req, o, v); err != nil {
				return err
			}
		default:
			return usagef("--security-opt %q is not supported: use label=..., no-new-privileges or seccomp=...", o)
		}
	}
	if len(label) > 0 {
		l, err := spec.SELinuxLabel(label)
		if err != nil {
			return usageError{err}
		}
		req.SELinuxLabel = l
	}
	return nil
}

// seccomp reads --security-opt seccomp=unconfined|PROFILE.json.
func (a *app) seccomp(req *spec.Request, opt, v string) error {
	switch v {
	case "unconfined":
		req.SeccompProfile = v
	case "":
		return usagef("invalid --security-opt %q: want seccomp=unconfined or seccomp=PROFILE.json", opt)
	default:
		body, err := policy.ReadFile(a.caller, "--security-opt seccomp", v)
		if err != nil {
			return usageError{err}
		}
		req.SeccompProfile = string(body)
	}
	return nil
}

// resources reads the memory, swap, CPU, shm sizes and ulimits.
func resources(c *cli.Context, req *spec.Request) error {
	var err error
	if v := c.String("memory"); v != "" {
		if req.Memory, err = spec.ParseMemory(v); err != nil {
			return flagError("-m", v, err)
		}
	}
	if v := c.String("memory-swap"); v != "" {
		if req.MemorySwap, err = spec.ParseMemorySwap(v); err != nil {
			return flagError("--memory-swap", v, err)
		}
	}
	if shares := c.Int64("cpu-shares"); shares < 0 {
		return usagef("invalid --cpu-shares %d: must not be negative", shares)
	} else {
		req.CPUShares = uint64(shares)
	}
	if v := c.String("shm-size"); v != "" {
		if req.ShmSize, err = spec.ParseShmSize(v); err != nil {
			return flagError("--shm-size", v, err)
		}
	}
	for _, u := range c.StringSlice("ulimit") {
		r, err := spec.ParseUlimit(u)
		if err != nil {
			return usageError{err}
		}
		req.Rlimits = append(req.Rlimits, r)
	}
	return nil
}

// devices reads --device and --gpus; devices outside the policy are
// refused before the node is even looked at. A --device that names a CDI
// device (vendor/class=name) goes with --gpus (gpus.go).
func (a *app) devices(c *cli.Context, req *spec.Request) error {
	var cdiNames []string
	for _, d := range c.StringSlice("device") {
		if spec.CDIDevice(d) {
			cdiNames = append(cdiNames, d)
			continue
		}
		host, _, _ := strings.Cut(d, ":")
		if err := a.node.Policy.CheckDevice(host, a.caller); err != nil {
			return err
		}
		dev, err := spec.ParseDevice(d)
		if err != nil {
			return usageError{err}
		}
		req.Devices = append(req.Devices, dev)
	}
	return a.gpus(c, req, cdiNames)
}
