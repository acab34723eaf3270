package main

import (
	"fmt"
	"os"
	"path/filepath"
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
		Init:     c.Bool("init"),
		CapAdd:   c.StringSlice("cap-add"),
		CapDrop:  c.StringSlice("cap-drop"),
	}
	opts := container.Options{Name: c.String("name"), CIDFile: callerPath(c.String("cidfile"))}
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
		modes, dns, a.publish, a.environment, mounts, a.securityOptions, resources, a.devices, a.labels, stopping,
	} {
		if err := parse(c, req); err != nil {
			return nil, opts, err
		}
	}
	return req, opts, nil
}

// callerPath is a file the caller named (an env or label file, a cidfile,
// a seccomp profile), made absolute in the working directory as docker's
// client takes it: dockless's own is the caller's.
func callerPath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if cwd, err := os.Getwd(); err == nil {
		return filepath.Join(cwd, p)
	}
	return p
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
// caller's environment, as docker does, and stays bare (removing KEY from
// the image's environment) when the caller has none.
func (a *app) environment(c *cli.Context, req *spec.Request) error {
	env, err := a.envFlags(c)
	req.Env = env
	return err
}

// envFlags reads -e and --env-file (run and exec).
func (a *app) envFlags(c *cli.Context) ([]string, error) {
	var out []string
	for _, f := range c.StringSlice("env-file") {
		vars, err := readEnvFile(a.caller, callerPath(f))
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
		if v, set := a.caller.LookupEnv(key); !ok && set {
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

// mounts reads -v, --mount and --tmpfs into the user's binds and the
// tmpfs mounts; the same destination twice is refused, as docker does. A
// relative source is taken in the caller's working directory (dockless's
// own). openSources checks and opens the sources.
func mounts(c *cli.Context, req *spec.Request) error {
	cwd, err := os.Getwd()
	if err != nil {
		cwd = ""
	}
	seen := map[string]bool{}
	add := func(dst string) error {
		if seen[dst] {
			return usagef("Duplicate mount point: %s", dst)
		}
		seen[dst] = true
		return nil
	}
	for _, v := range c.StringSlice("volume") {
		b, err := spec.ParseVolume(v, cwd)
		if err != nil {
			return flagError("-v", v, err)
		}
		if err := add(b.Destination); err != nil {
			return err
		}
		req.Mounts = append(req.Mounts, b)
	}
	for _, m := range c.StringSlice("mount") {
		b, tmpfs, err := spec.ParseMount(m, cwd)
		if err != nil {
			return flagError("--mount", m, err)
		}
		if tmpfs != nil {
			req.Tmpfs = append(req.Tmpfs, *tmpfs)
			b.Destination = tmpfs.Destination
		} else {
			req.Mounts = append(req.Mounts, b)
		}
		if err := add(b.Destination); err != nil {
			return err
		}
	}
	for _, v := range c.StringSlice("tmpfs") {
		t, err := spec.ParseTmpfs(v)
		if err != nil {
			return flagError("--tmpfs", v, err)
		}
		if err := add(t.Destination); err != nil {
			return err
		}
		req.Tmpfs = append(req.Tmpfs, t)
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
		case "apparmor":
			if v != "unconfined" {
				return usagef("--security-opt %q is not supported: dockless applies no AppArmor profile (apparmor=unconfined, which asks for none, is accepted)", o)
			}
		default:
			return usagef("--security-opt %q is not supported: use label=..., no-new-privileges, seccomp=... or apparmor=unconfined", o)
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
		body, err := policy.ReadFile(a.caller, "--security-opt seccomp", callerPath(v))
		if err != nil {
			return usageError{err}
		}
		req.SeccompProfile = string(body)
	}
	return nil
}

// resources reads the memory, swap, CPU, pids, OOM score, shm sizes and
// ulimits.
func resources(c *cli.Context, req *spec.Request) error {
	var err error
	for _, f := range []struct {
		flag  string
		parse func(string) (int64, error)
		to    *int64
	}{
		{"memory", spec.ParseMemory, &req.Memory},
		{"memory-swap", spec.ParseMemorySwap, &req.MemorySwap},
		{"shm-size", spec.ParseShmSize, &req.ShmSize},
		{"cpus", spec.ParseCPUs, &req.NanoCPUs},
	} {
		if v := c.String(f.flag); v != "" {
			if *f.to, err = f.parse(v); err != nil {
				return flagError("--"+f.flag, v, err)
			}
		}
	}
	if shares := c.Int64("cpu-shares"); shares < 0 {
		return usagef("invalid --cpu-shares %d: must not be negative", shares)
	} else {
		req.CPUShares = uint64(shares)
	}
	req.CPUQuota, req.CPUPeriod = c.Int64("cpu-quota"), c.Int64("cpu-period")
	for _, f := range []struct {
		flag string
		to   *string
	}{{"cpuset-cpus", &req.CpusetCpus}, {"cpuset-mems", &req.CpusetMems}} {
		if v := c.String(f.flag); v != "" {
			if *f.to, err = spec.ParseCpuset(v); err != nil {
				return flagError("--"+f.flag, v, err)
			}
		}
	}
	if c.IsSet("pids-limit") {
		n := c.Int64("pids-limit")
		req.PidsLimit = &n
	}
	if c.IsSet("oom-score-adj") {
		n, err := spec.ParseOOMScoreAdj(c.Int("oom-score-adj"))
		if err != nil {
			return flagError("--oom-score-adj", fmt.Sprint(c.Int("oom-score-adj")), err)
		}
		req.OOMScoreAdj = &n
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

// dns reads --dns, --dns-search and --dns-option.
func dns(c *cli.Context, req *spec.Request) error {
	for _, f := range []struct {
		flag  string
		parse func(string) (string, error)
		to    *[]string
	}{
		{"dns", spec.ParseDNS, &req.DNS},
		{"dns-search", spec.ParseDNSSearch, &req.DNSSearch},
		{"dns-option", spec.ParseDNSOption, &req.DNSOptions},
	} {
		for _, v := range c.StringSlice(f.flag) {
			parsed, err := f.parse(v)
			if err != nil {
				return flagError("--"+f.flag, v, err)
			}
			*f.to = append(*f.to, parsed)
		}
	}
	return nil
}

// publish reads -p: every container has the host network (or none), so
// published ports are checked and discarded, with docker's warning for
// --network host (docker discards them silently with --network none).
func (a *app) publish(c *cli.Context, req *spec.Request) error {
	ports := c.StringSlice("publish")
	for _, p := range ports {
		if err := spec.ParsePublish(p); err != nil {
			return flagError("-p", p, err)
		}
	}
	if len(ports) > 0 && req.Network == "host" {
		a.log.Warn("Published ports are discarded when using host network mode: the container's ports are the node's (dockless's default network is the host's)")
	}
	return nil
}

// labels reads --label-file files (read with the caller's rights, docker's
// env-file format, a bare KEY an empty label) and then --label.
func (a *app) labels(c *cli.Context, req *spec.Request) error {
	var kvs []string
	for _, path := range c.StringSlice("label-file") {
		f, err := policy.OpenFile(a.caller, "--label-file", callerPath(path))
		if err != nil {
			return usageError{err}
		}
		lines, err := spec.ParseEnvFile(f, func(string) (string, bool) { return "", true })
		f.Close()
		if err != nil {
			return usagef("--label-file %s: %w", path, err)
		}
		kvs = append(kvs, lines...)
	}
	for _, kv := range append(kvs, c.StringSlice("label")...) {
		k, v, err := spec.ParseLabel(kv)
		if err != nil {
			return flagError("--label", kv, err)
		}
		if req.Labels == nil {
			req.Labels = map[string]string{}
		}
		req.Labels[k] = v
	}
	return nil
}

// stopping reads --stop-signal and --stop-timeout.
func stopping(c *cli.Context, req *spec.Request) error {
	if v := c.String("stop-signal"); v != "" {
		sig, err := spec.ParseSignal(v)
		if err != nil {
			return flagError("--stop-signal", v, err)
		}
		req.StopSignal = int(sig)
	}
	if c.IsSet("stop-timeout") {
		n := c.Int("stop-timeout")
		req.StopTimeout = &n
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
