package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"tags.cncf.io/container-device-interface/pkg/parser"
)

// NVIDIAGPU is the CDI kind of NVIDIA's GPUs (nvidia-ctk cdi generate).
const NVIDIAGPU = "nvidia.com/gpu"

var gpuNode = lazyRegexp(`^nvidia([0-9]+)$`)

// nvidiaControl are the NVIDIA driver's shared device nodes.
var nvidiaControl = []string{"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"}

// GPURequest is docker's --gpus value: all the GPUs, a count of them, or
// the devices listed (indexes or UUIDs, as written).
type GPURequest struct {
	All   bool
	Count int
	IDs   []string
}

// ParseGPURequest reads docker's --gpus value: "all", a count ("2",
// "count=2", "count=all"), or "device=0,2" (`"device=0,2"` quoted,
// also "device=GPU-<uuid>"), with docker's driver= and capabilities=
// options accepted and ignored. It is the one parser of --gpus.
func ParseGPURequest(value string) (GPURequest, error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid --gpus %q: %s (want all, a count, count=N or device=I[,J...])", value, why)
	}
	var r GPURequest
	for _, field := range splitGPUFields(value) {
		k, v, hasValue := strings.Cut(field, "=")
		switch {
		case !hasValue && k == "all", k == "count" && v == "all":
			r.All = true
		case !hasValue, k == "count":
			if !hasValue {
				v = k
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				if hasValue {
					return r, bad("count must be a positive number or all")
				}
				return r, bad("unknown option " + k)
			}
			r.Count = n
		case k == "device":
			for _, id := range strings.Split(v, ",") {
				if id == "" || strings.ContainsAny(id, " \t\n=/") {
					return r, bad("device " + strconv.Quote(id) + " is not a GPU index or UUID")
				}
				r.IDs = append(r.IDs, id)
			}
		case k == "driver" && v == "nvidia", k == "capabilities":
		default:
			return r, bad("unknown option " + k)
		}
	}
	if !r.All && r.Count == 0 && r.IDs == nil {
		return r, bad("no GPUs selected")
	}
	return r, nil
}

// CDINames are the CDI devices of kind (vendor/class) that r names, as
// docker, nerdctl and podman map --gpus: all is the kind's "all" device,
// a count the first indexes, device= each one listed.
func (r GPURequest) CDINames(kind string) []string {
	var names []string
	switch {
	case r.IDs != nil:
		for _, id := range r.IDs {
			names = append(names, kind+"="+id)
		}
	case r.All:
		names = []string{kind + "=all"}
	default:
		for i := range r.Count {
			names = append(names, kind+"="+strconv.Itoa(i))
		}
	}
	return names
}

// CDIDevice reports whether docker's --device value names a CDI device
// (vendor/class=name, docker 25's form) rather than a host path.
func CDIDevice(arg string) bool {
	return !strings.HasPrefix(arg, "/") && parser.IsQualifiedName(arg)
}

// GPUs selects NVIDIA GPU device nodes under devDir (normally /dev) for
// docker's --gpus value, without CDI: the bare device nodes. It returns the
// device nodes (GPUs plus the driver's control nodes present) and the
// indexes chosen, for NVIDIA_VISIBLE_DEVICES. A node with no GPU is an
// error, as it is for docker.
func GPUs(devDir, value string) ([]Device, []int, error) {
	r, err := ParseGPURequest(value)
	if err != nil {
		return nil, nil, err
	}
	entries, err := os.ReadDir(devDir)
	if err != nil {
		return nil, nil, fmt.Errorf("--gpus: listing %s: %w", devDir, err)
	}
	var present []int
	for _, e := range entries {
		if m := gpuNode().FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			present = append(present, n)
		}
	}
	slices.Sort(present)
	if len(present) == 0 {
		return nil, nil, fmt.Errorf("--gpus %s: no NVIDIA GPU device nodes (%s/nvidia[0-9]*) on this node", value, devDir)
	}
	chosen, err := selectGPUs(value, r, present)
	if err != nil {
		return nil, nil, err
	}
	var devs []Device
	add := func(name string) error {
		p := filepath.Join(devDir, name)
		d, err := StatDevice(Device{HostPath: p, Path: "/dev/" + name, Permissions: "rwm"})
		if err != nil {
			return fmt.Errorf("--gpus: %w", err)
		}
		devs = append(devs, d)
		return nil
	}
	for _, n := range chosen {
		if err := add("nvidia" + strconv.Itoa(n)); err != nil {
			return nil, nil, err
		}
	}
	for _, name := range nvidiaControl {
		if _, err := os.Stat(filepath.Join(devDir, name)); err == nil {
			if err := add(name); err != nil {
				return nil, nil, err
			}
		}
	}
	return devs, chosen, nil
}

// selectGPUs picks the device nodes r asks for among those present.
func selectGPUs(value string, r GPURequest, present []int) ([]int, error) {
	switch {
	case r.IDs != nil:
		var ids []int
		for _, id := range r.IDs {
			n, err := strconv.Atoi(id)
			if err != nil {
				return nil, fmt.Errorf("invalid --gpus %q: device %s is not a GPU index (GPUs by UUID need a CDI spec: dockless cdi generate)", value, id)
			}
			if !slices.Contains(present, n) {
				return nil, fmt.Errorf("--gpus %s: GPU %d is not on this node (present: %v)", value, n, present)
			}
			ids = append(ids, n)
		}
		return ids, nil
	case r.All:
		return present, nil
	case r.Count > len(present):
		return nil, fmt.Errorf("--gpus %s: %d GPUs requested, %d on this node", value, r.Count, len(present))
	}
	return present[:r.Count], nil
}

// splitGPUFields splits on commas outside quotes, so that
// `"device=0,1",capabilities=compute` keeps the device list whole.
func splitGPUFields(v string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range v {
		switch {
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(out, cur.String())
}

// lazyRegexp compiles expr on first use, not in the package's
// initialisation: dockless's binary starts twice per container (the
// command and the container's init), and the init never needs it.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
