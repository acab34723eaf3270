package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dockless/dockless/cdi"
	"github.com/dockless/dockless/lsf"
	"github.com/dockless/dockless/spec"
	"github.com/urfave/cli/v2"
)

// gpus reads --gpus and the CDI devices --device named into the request's
// CDI devices: --gpus as docker 25 and nerdctl map it (all, the first N,
// device=…), for callers who are not trusted only GPUs of the LSF
// allocation in their environment (lsf.Allocation.Select). Without a CDI
// spec for nvidia.com/gpu, --gpus gives the bare device nodes as before,
// with a warning.
func (a *app) gpus(c *cli.Context, req *spec.Request, names []string) error {
	var gpus *spec.GPURequest
	if c.IsSet("gpus") {
		r, err := spec.ParseGPURequest(c.String("gpus"))
		if err != nil {
			return usageError{err}
		}
		gpus = &r
	}
	if gpus == nil && names == nil {
		return nil
	}
	specs, err := a.cdiSpecs()
	if err != nil {
		return err
	}
	if gpus != nil && len(specs.Devices(spec.NVIDIAGPU)) == 0 {
		a.log.Warnf("no CDI spec for %s in [gpu] cdi_spec_dirs (%s): --gpus gives the bare device nodes, without the driver's libraries (root: dockless cdi generate --output /etc/cdi/nvidia.yaml)",
			spec.NVIDIAGPU, strings.Join(specs.Dirs, ", "))
		if err := bareGPUs(c.String("gpus"), req); err != nil {
			return err
		}
		gpus = nil
	}
	switch {
	case gpus == nil && names == nil:
		return nil
	case a.node.Policy.Trusted(a.caller):
		if gpus != nil {
			names = append(gpus.CDINames(spec.NVIDIAGPU), names...)
		}
		req.CDIDevices = names
		return nil
	}
	alloc, err := a.allocation(specs)
	if err != nil {
		return err
	}
	req.CDIDevices, err = alloc.Select(gpus, names)
	return err
}

// bareGPUs is --gpus without CDI: the NVIDIA device nodes and
// NVIDIA_VISIBLE_DEVICES.
func bareGPUs(value string, req *spec.Request) error {
	gpus, ids, err := spec.GPUs("/dev", value)
	if err != nil {
		return usageError{err}
	}
	req.Devices = append(req.Devices, gpus...)
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	req.Env = append(req.Env, "NVIDIA_VISIBLE_DEVICES="+strings.Join(s, ","))
	return nil
}

// cdiSpecs loads the node's CDI specs of [gpu] cdi_spec_dirs.
func (a *app) cdiSpecs() (*cdi.Specs, error) {
	pol := a.node.Policy
	specs, err := cdi.Load(pol.GPU.CDISpecDirs, pol.GPU.AllowedHooks)
	if err != nil {
		return nil, err
	}
	for _, p := range specs.Problems {
		a.log.Warnf("%s", p)
	}
	return specs, nil
}

// allocation is the caller's LSF GPU allocation, from their environment
// (nil: none).
func (a *app) allocation(specs *cdi.Specs) (*lsf.Allocation, error) {
	if !lsf.HasGPUs(a.caller.Env) {
		return nil, nil
	}
	h, err := a.gpuFacts(specs)
	if err != nil {
		return nil, err
	}
	return lsf.ReadAllocation(a.caller.Env, a.node.Policy, h)
}

// jobGPUs reads the node's GPU facts for an LSF job (lsf.Host.GPUs).
func (a *app) jobGPUs() (lsf.GPUHost, error) {
	specs, err := a.cdiSpecs()
	if err != nil {
		return lsf.GPUHost{}, err
	}
	return a.gpuFacts(specs)
}

// gpuFacts reads what the LSF allocation needs of the node: its GPUs (the
// CDI spec), whether LSF confines jobs to their GPUs (lsf.conf under
// [job] lsf_top), the GPUs of this process's device cgroup (cgroup v1),
// the MIG capability minors.
func (a *app) gpuFacts(specs *cdi.Specs) (lsf.GPUHost, error) {
	h := lsf.GPUHost{Table: lsf.NewGPUTable(specs.Devices(spec.NVIDIAGPU))}
	if top := a.node.Policy.Job.LSFTop; top != "" {
		conf, err := readOptional(filepath.Join(top, "conf", "lsf.conf"))
		if err != nil {
			return h, err
		}
		h.Enforced = lsf.ResourceEnforce(conf)
	}
	if list, err := readOptional(ownDevicesList()); err != nil {
		return h, err
	} else if list != "" {
		h.CgroupMinors = lsf.DeviceCgroupGPUs(list)
	}
	mig, err := readOptional("/proc/driver/nvidia-caps/mig-minors")
	h.MIGMinors = lsf.ParseMIGMinors(mig)
	return h, err
}

// ownDevicesList is the devices.list of this process's cgroup v1 device
// cgroup (that of the LSF job); "" on cgroup v2.
func ownDevicesList() string {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && strings.Contains(","+f[1]+",", ",devices,") {
			return filepath.Join("/sys/fs/cgroup/devices", f[2], "devices.list")
		}
	}
	return ""
}

// readOptional reads a root-configured file that may be absent ("").
func readOptional(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return string(b), err
}
