package lsf

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
)

// jobWrapperVariables applies the remaining LSF_DOCKER_* variables, each
// value read by the parser of the docker flag the wrapper passed it to.
func jobWrapperVariables(job *Job, env map[string]string, caller *policy.Caller, pol *policy.Policy) error {
	req := job.Req
	var err error
	if v := env["LSF_DOCKER_NETWORK"]; v != "" {
		if req.Network, err = spec.ParseNetwork(v); err != nil {
			return fmt.Errorf("LSF_DOCKER_NETWORK=%s: %w", v, err)
		}
	}
	if v := env["LSF_DOCKER_IPC"]; v != "" {
		if req.IPC, err = spec.ParseIPC(v); err != nil {
			return fmt.Errorf("LSF_DOCKER_IPC=%s: %w", v, err)
		}
	}
	if v := env["LSF_DOCKER_SHM_SIZE"]; v != "" {
		if req.ShmSize, err = spec.ParseShmSize(v); err != nil {
			return fmt.Errorf("LSF_DOCKER_SHM_SIZE=%s: %w", v, err)
		}
	}
	if v := env["LSF_DOCKER_PORTS"]; v != "" {
		if err := checkPorts(v, req.Network); err != nil {
			return err
		}
	}
	for _, hp := range strings.Fields(env["LSF_DOCKER_ADD_HOST"]) {
		h, err := spec.ParseAddHost(hp)
		if err != nil {
			return fmt.Errorf("LSF_DOCKER_ADD_HOST %s: %w", hp, err)
		}
		req.AddHosts = append(req.AddHosts, h)
	}
	job.HostFiles = strings.Fields(env["LSF_DOCKER_ADD_HOST_FILE"])
	if v := env["LSF_DOCKER_CGROUP"]; v != "" {
		if !pol.Trusted(caller) {
			return fmt.Errorf("LSF_DOCKER_CGROUP=%s: refused by [callers] trusted in %s: only trusted callers may place a job in another cgroup", v, pol.Source())
		}
		if req.CgroupParent, err = spec.ParseCgroupParent(v); err != nil {
			return fmt.Errorf("LSF_DOCKER_CGROUP=%s: %w", v, err)
		}
	}
	if v := job.LogLevel; v != "" {
		if _, err := ParseLogLevel(v); err != nil {
			return fmt.Errorf("LSF_DOCKER_RUN_LOGLEVEL=%s: %w", v, err)
		}
	}
	return nil
}

// checkPorts validates LSF_DOCKER_PORTS (docker -p forms, host ports
// 8000-8999) and then refuses it: publishing needs a bridge network.
func checkPorts(v, network string) error {
	for _, p := range strings.Fields(v) {
		mapping, _, _ := strings.Cut(p, "/")
		host := mapping
		if i := strings.LastIndex(mapping, ":"); i >= 0 {
			host = mapping[:i]
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
			return fmt.Errorf("LSF_DOCKER_PORTS: %q is not a docker port mapping (8001, 8001:80, 8000-8010:80-90, /tcp, /udp)", p)
		}
		if a < 8000 || b > 8999 {
			return fmt.Errorf("LSF_DOCKER_PORTS: host port %s is outside 8000-8999", host)
		}
	}
	if network == "host" {
		return fmt.Errorf("LSF_DOCKER_PORTS: ports cannot be published with the host network (the default): the job's ports are the node's already; listen on 8000-8999")
	}
	return fmt.Errorf("LSF_DOCKER_PORTS: publishing ports needs a bridge network, which dockless does not implement yet")
}
