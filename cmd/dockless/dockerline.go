package main

import (
	"fmt"
	"strings"

	"github.com/dockless/dockless/spec"
)

// dockerLine is the `docker run` command that asks for the same container,
// logged at DEBUG as the site's wrapper did, so admins can compare.
func dockerLine(req *spec.Request, name, image string) string {
	a := []string{"docker", "run", "--rm", "--name=" + name}
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag, quote(v))
		}
	}
	if req.FixedUser || req.UserSpec != "" {
		add("-u", fmt.Sprintf("%d:%d", req.User.UID, req.User.GID))
	}
	for _, g := range req.User.AdditionalGids {
		add("--group-add", fmt.Sprint(g))
	}
	for _, m := range req.Mounts {
		v := m.Source + ":" + m.Destination
		if m.ReadOnly {
			v += ":ro"
		}
		add("-v", v)
	}
	add("-w", req.Workdir)
	add("-h", req.Hostname)
	add("--network", req.Network)
	add("--ipc", req.IPC)
	if req.ShmSize > 0 {
		add("--shm-size", fmt.Sprint(req.ShmSize))
	}
	if req.SELinuxLabel != "" {
		parts := strings.SplitN(req.SELinuxLabel, ":", 4)
		for i, k := range []string{"user", "role", "type", "level"} {
			if i < len(parts) {
				add("--security-opt", "label="+k+":"+parts[i])
			}
		}
	}
	if req.Tty {
		a = append(a, "-t")
	}
	for _, e := range req.Env {
		add("-e", e)
	}
	if req.CPUShares > 0 {
		add("--cpu-shares", fmt.Sprint(req.CPUShares))
	}
	if req.Memory > 0 {
		add("-m", fmt.Sprint(req.Memory))
	}
	if req.MemorySwap != 0 {
		add("--memory-swap", fmt.Sprint(req.MemorySwap))
	}
	if req.CapBase != nil {
		a = append(a, "--cap-drop=all")
		for _, c := range req.CapBase {
			a = append(a, "--cap-add="+c)
		}
	}
	for _, c := range req.CapDrop {
		a = append(a, "--cap-drop="+c)
	}
	for _, c := range req.CapAdd {
		a = append(a, "--cap-add="+c)
	}
	if req.NoNewPrivileges {
		a = append(a, "--security-opt=no-new-privileges")
	}
	for _, d := range req.Devices {
		add("--device", d.HostPath+":"+d.Path+":"+d.Permissions)
	}
	for _, r := range req.Rlimits {
		add("--ulimit", strings.ToLower(strings.TrimPrefix(r.Type, "RLIMIT_"))+"="+limit(r.Soft)+":"+limit(r.Hard))
	}
	for _, h := range req.AddHosts {
		add("--add-host", h.Host+":"+h.IP)
	}
	if req.ReadOnly {
		a = append(a, "--read-only")
	}
	if req.EntrypointSet {
		add("--entrypoint", strings.Join(req.Entrypoint, " "))
	}
	a = append(a, quote(image))
	for _, c := range req.Cmd {
		a = append(a, quote(c))
	}
	return strings.Join(a, " ")
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
