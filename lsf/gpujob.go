package lsf

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
)

// jobGPUs gives the job exactly the GPUs LSF allocated it on this host
// (what the seed's --gpus all becomes): their CDI devices, and the GPU
// variables as the container numbers its GPUs. No allocation, no GPU.
func jobGPUs(job *Job, env map[string]string, pol *policy.Policy, h Host) error {
	if !HasGPUs(env) || h.GPUs == nil {
		return nil
	}
	gh, err := h.GPUs()
	if err != nil {
		return err
	}
	if len(gh.Table.GPUs) == 0 {
		job.Warnings = append(job.Warnings, "the job was allocated GPUs but no CDI spec in [gpu] cdi_spec_dirs describes "+spec.NVIDIAGPU+
			" on this node: the container gets none (root: dockless cdi generate --output /etc/cdi/nvidia.yaml)")
		return nil
	}
	a, err := ReadAllocation(env, pol, gh)
	if err != nil || a == nil {
		return err
	}
	job.GPUs = a
	job.Req.CDIDevices = a.Names()
	setEnv(job.Req, a.Env)
	return jobMPS(job, env, pol)
}

// setEnv replaces the request's entries of each KEY=VALUE of vars, or
// adds them.
func setEnv(req *spec.Request, vars []string) {
	for _, kv := range vars {
		key, _, _ := strings.Cut(kv, "=")
		req.Env = deleteKey(req.Env, key)
		req.Env = append(req.Env, kv)
	}
}

func deleteKey(env []string, key string) []string {
	out := env[:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != key {
			out = append(out, kv)
		}
	}
	return out
}

// jobMPS lets a job whose GPUs run under the MPS daemon LSF started
// (CUDA_MPS_PIPE_DIRECTORY) reach it: the pipe and log directories, the
// user's, at their own paths, and the node's IPC namespace and /dev/shm,
// which the daemon uses ([gpu] mps_host_ipc).
func jobMPS(job *Job, env map[string]string, pol *policy.Policy) error {
	if env[mpsPipe] == "" {
		return nil
	}
	if !pol.GPU.MPSHostIPC {
		return &policy.Refusal{What: "a GPU job under MPS (" + mpsPipe + "=" + env[mpsPipe] + ")", Rule: "[gpu] mps_host_ipc", Source: pol.Source(),
			Fix: "the MPS daemon LSF started reaches its clients through the node's /dev/shm: set mps_host_ipc = true, or submit without mps=yes"}
	}
	job.Req.IPC = "host"
	for _, v := range []string{mpsPipe, "CUDA_MPS_LOG_DIRECTORY"} {
		p := env[v]
		if p == "" || boundAtOwnPath(job, p) {
			continue
		}
		dst, err := spec.Destination(p)
		if err != nil {
			return fmt.Errorf("%s=%s: %w", v, p, err)
		}
		job.Sources = append(job.Sources, Source{What: "MPS directory (" + v + ")", Bind: spec.Bind{Source: p, Destination: dst, User: true},
			Directory: true, Owned: true, Fix: "the MPS directories LSF makes for a job are the job user's"})
	}
	return nil
}

// boundAtOwnPath reports whether p lies in one of the user's directories
// already bound at its own path (the job tmpdir, the home).
func boundAtOwnPath(job *Job, p string) bool {
	p = filepath.Clean(p)
	for _, s := range job.Sources {
		b := s.Bind
		if b.Source == b.Destination && (p == b.Source || strings.HasPrefix(p, strings.TrimSuffix(b.Source, "/")+"/")) {
			return true
		}
	}
	return false
}
