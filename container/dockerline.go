package container

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/dockless/dockless/spec"
)

// DockerLine is the `docker run` command that asks for the same container,
// logged at DEBUG as the site's wrapper did, so admins can compare.
func DockerLine(req *spec.Request, host spec.Host, name, image string) string {
	w := &dockerWords{a: []string{"docker", "run", "--rm", "--name=" + name}}
	w.identity(req, host)
	w.names(req)
	w.security(req)
	w.resources(req)
	if req.EntrypointSet {
		w.add("--entrypoint", strings.Join(req.Entrypoint, " "))
	}
	w.a = append(w.a, quote(image))
	for _, c := range req.Cmd {
		w.a = append(w.a, quote(c))
	}
	return strings.Join(w.a, " ")
}

// dockerWords is a docker command line being written.
type dockerWords struct{ a []string }

// add appends a flag and its value, unless the value is empty.
func (w *dockerWords) add(flag, v string) {
	if v != "" {
		w.a = append(w.a, flag, quote(v))
	}
}

func (w *dockerWords) flag(on bool, f string) {
	if on {
		w.a = append(w.a, f)
	}
}

// identity: the user, the mounts, the process's place and environment.
func (w *dockerWords) identity(req *spec.Request, host spec.Host) {
	if req.FixedUser || req.UserSpec != "" {
		w.add("-u", fmt.Sprintf("%d:%d", host.User.UID, host.User.GID))
	}
	for _, g := range host.User.AdditionalGids {
		w.add("--group-add", fmt.Sprint(g))
	}
	for _, m := range req.Mounts {
		v := m.Source + ":" + m.Destination
		if m.ReadOnly {
			v += ":ro"
		}
		w.add("-v", v)
	}
	w.add("-w", req.Workdir)
	w.add("-h", req.Hostname)
	w.add("--network", req.Network)
	w.add("--ipc", req.IPC)
	w.flag(req.Tty, "-t")
	for _, e := range req.Env {
		w.add("-e", e)
	}
	for _, h := range req.AddHosts {
		w.add("--add-host", h.Host+":"+h.IP)
	}
	w.flag(req.ReadOnly, "--read-only")
	for _, t := range req.Tmpfs {
		w.add("--tmpfs", strings.TrimSuffix(t.Destination+":"+strings.Join(t.Options, ","), ":"))
	}
	w.flag(req.Init, "--init")
}

// names: name resolution, labels and how the container is stopped.
func (w *dockerWords) names(req *spec.Request) {
	for _, f := range []struct {
		flag   string
		values []string
	}{{"--dns", req.DNS}, {"--dns-search", req.DNSSearch}, {"--dns-option", req.DNSOptions}} {
		for _, v := range f.values {
			w.add(f.flag, v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(req.Labels)) {
		w.add("--label", k+"="+req.Labels[k])
	}
	if req.StopSignal > 0 {
		w.add("--stop-signal", fmt.Sprint(req.StopSignal))
	}
	if req.StopTimeout != nil {
		w.add("--stop-timeout", fmt.Sprint(*req.StopTimeout))
	}
}

// security: the label, the capabilities, no-new-privileges, the devices.
func (w *dockerWords) security(req *spec.Request) {
	if req.SELinuxLabel != "" {
		parts := strings.SplitN(req.SELinuxLabel, ":", 4)
		for i, k := range []string{"user", "role", "type", "level"} {
			if i < len(parts) {
				w.add("--security-opt", "label="+k+":"+parts[i])
			}
		}
	}
	w.flag(req.CapBase != nil, "--cap-drop=all")
	for _, c := range req.CapBase {
		w.a = append(w.a, "--cap-add="+c)
	}
	for _, c := range req.CapDrop {
		w.a = append(w.a, "--cap-drop="+c)
	}
	for _, c := range req.CapAdd {
		w.a = append(w.a, "--cap-add="+c)
	}
	w.flag(req.NoNewPrivileges, "--security-opt=no-new-privileges")
	for _, d := range req.Devices {
		w.add("--device", d.HostPath+":"+d.Path+":"+d.Permissions)
	}
	for _, name := range req.CDIDevices {
		w.add("--device", name)
	}
}

// resources: memory, CPU, /dev/shm and the ulimits.
func (w *dockerWords) resources(req *spec.Request) {
	if req.ShmSize > 0 {
		w.add("--shm-size", fmt.Sprint(req.ShmSize))
	}
	if req.CPUShares > 0 {
		w.add("--cpu-shares", fmt.Sprint(req.CPUShares))
	}
	if req.NanoCPUs > 0 {
		w.add("--cpus", strconv.FormatFloat(float64(req.NanoCPUs)/1e9, 'f', -1, 64))
	}
	if req.CPUQuota != 0 {
		w.add("--cpu-quota", fmt.Sprint(req.CPUQuota))
	}
	if req.CPUPeriod != 0 {
		w.add("--cpu-period", fmt.Sprint(req.CPUPeriod))
	}
	w.add("--cpuset-cpus", req.CpusetCpus)
	w.add("--cpuset-mems", req.CpusetMems)
	if req.PidsLimit != nil {
		w.add("--pids-limit", fmt.Sprint(*req.PidsLimit))
	}
	if req.OOMScoreAdj != nil {
		w.add("--oom-score-adj", fmt.Sprint(*req.OOMScoreAdj))
	}
	if req.Memory > 0 {
		w.add("-m", fmt.Sprint(req.Memory))
	}
	if req.MemorySwap != 0 {
		w.add("--memory-swap", fmt.Sprint(req.MemorySwap))
	}
	for _, r := range req.Rlimits {
		w.add("--ulimit", strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_"))+"="+limit(r.Soft)+":"+limit(r.Hard))
	}
}

func limit(v uint64) string {
	if v == ^uint64(0) {
		return "-1"
	}
	return fmt.Sprint(v)
}

// quote single-quotes a word for a POSIX shell when it needs it.
func quote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`;&|<>()*?[]#~!{}") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
