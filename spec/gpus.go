package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var gpuNode = regexp.MustCompile(`^nvidia([0-9]+)$`)

// nvidiaControl are the NVIDIA driver's shared device nodes.
var nvidiaControl = []string{"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"}

// GPUs selects NVIDIA GPU device nodes under devDir (normally /dev) for
// docker's --gpus value: "all", a count ("2", "count=2"), or
// "device=0,2". It returns the device nodes (GPUs plus the driver's control
// nodes present) and the indexes chosen, for NVIDIA_VISIBLE_DEVICES. A node
// with no GPU is an error, as it is for docker.
func GPUs(devDir, value string) ([]Device, []int, error) {
	entries, err := os.ReadDir(devDir)
	if err != nil {
		return nil, nil, fmt.Errorf("--gpus: listing %s: %w", devDir, err)
	}
	var present []int
	for _, e := range entries {
		if m := gpuNode.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			present = append(present, n)
		}
	}
	slices.Sort(present)
	if len(present) == 0 {
		return nil, nil, fmt.Errorf("--gpus %s: no NVIDIA GPU device nodes (%s/nvidia[0-9]*) on this node", value, devDir)
	}
	chosen, err := selectGPUs(value, present)
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

func selectGPUs(value string, present []int) ([]int, error) {
	bad := func(why string) error {
		return fmt.Errorf("invalid --gpus %q: %s (want all, a count, count=N or device=I[,J...])", value, why)
	}
	count := -1
	var ids []int
	for _, field := range splitGPUFields(value) {
		k, v, hasValue := strings.Cut(field, "=")
		switch {
		case !hasValue && k == "all":
			count = len(present)
		case !hasValue:
			n, err := strconv.Atoi(k)
			if err != nil || n < 1 {
				return nil, bad("unknown option " + k)
			}
			count = n
		case k == "count":
			if v == "all" {
				count = len(present)
				break
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, bad("count must be a positive number or all")
			}
			count = n
		case k == "device":
			for _, id := range strings.Split(v, ",") {
				n, err := strconv.Atoi(id)
				if err != nil {
					return nil, bad("device " + id + " is not a GPU index")
				}
				if !slices.Contains(present, n) {
					return nil, fmt.Errorf("--gpus %s: GPU %d is not on this node (present: %v)", value, n, present)
				}
				ids = append(ids, n)
			}
		case k == "driver" && v == "nvidia", k == "capabilities":
		default:
			return nil, bad("unknown option " + k)
		}
	}
	switch {
	case ids != nil:
		return ids, nil
	case count > len(present):
		return nil, fmt.Errorf("--gpus %s: %d GPUs requested, %d on this node", value, count, len(present))
	case count > 0:
		return present[:count], nil
	default:
		return nil, bad("no GPUs selected")
	}
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
