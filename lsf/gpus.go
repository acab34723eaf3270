package lsf

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dockless/dockless/spec"
)

// GPU is one NVIDIA GPU of the node, as the site's CDI spec describes it.
type GPU struct {
	// Index is its nvidia-smi index; -1 when the spec names it by UUID only.
	Index int
	// Minor is the minor number of its /dev/nvidiaN node (the driver names
	// the node after it).
	Minor int
	// UUID is GPU-…; "" when the spec has no UUID name for it.
	UUID string
	// Name is the CDI device that gives it: its UUID name where the spec
	// has one (stable when indexes move), else its index name.
	Name string
}

// MIG is one MIG device of a GPU, as the site's CDI spec describes it.
type MIG struct {
	// Parent is the minor of the GPU it is part of.
	Parent int
	// UUID is MIG-…; "" when the spec has no UUID name for it.
	UUID string
	// Caps are the minors of its /dev/nvidia-caps/nvidia-capN nodes.
	Caps []int
	// Name is the CDI device that gives it (its UUID name if any).
	Name string
}

// GPUTable is what the node's CDI spec says of its NVIDIA GPUs.
type GPUTable struct {
	GPUs []GPU
	MIGs []MIG
	// Devices are the CDI devices it was read from: each qualified name
	// and the container paths of its device nodes.
	Devices map[string][]string
}

var (
	gpuNodePath = lazyRegexp(`^/dev/nvidia([0-9]{1,6})$`)
	capNodePath = lazyRegexp(`^/dev/nvidia-caps/nvidia-cap([0-9]{1,6})$`)
)

// NewGPUTable reads the GPUs and MIG devices out of the CDI devices of
// kind nvidia.com/gpu: devices maps each qualified name (nvidia.com/gpu=0)
// to the container paths of its device nodes. A device with one GPU node
// and no capability node is a GPU, named by index (0) or UUID (GPU-…); one
// with capability nodes, or named I:J or MIG-…, a MIG device; one with
// several GPU nodes ("all") is neither.
func NewGPUTable(devices map[string][]string) GPUTable {
	t := GPUTable{Devices: devices}
	names := make([]string, 0, len(devices))
	for n := range devices {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, qualified := range names {
		_, short, _ := strings.Cut(qualified, "=")
		var minors, caps []int
		for _, p := range devices[qualified] {
			if m := gpuNodePath().FindStringSubmatch(p); m != nil {
				n, _ := strconv.Atoi(m[1])
				minors = append(minors, n)
			} else if m := capNodePath().FindStringSubmatch(p); m != nil {
				n, _ := strconv.Atoi(m[1])
				caps = append(caps, n)
			}
		}
		if len(minors) != 1 {
			continue
		}
		if len(caps) > 0 || strings.Contains(short, ":") || strings.HasPrefix(short, "MIG-") {
			t.addMIG(minors[0], caps, short, qualified)
		} else {
			t.addGPU(minors[0], short, qualified)
		}
	}
	sort.Slice(t.GPUs, func(i, j int) bool { return t.GPUs[i].Minor < t.GPUs[j].Minor })
	return t
}

func (t *GPUTable) addGPU(minor int, short, qualified string) {
	i := slices.IndexFunc(t.GPUs, func(g GPU) bool { return g.Minor == minor })
	if i < 0 {
		t.GPUs = append(t.GPUs, GPU{Index: -1, Minor: minor, Name: qualified})
		i = len(t.GPUs) - 1
	}
	g := &t.GPUs[i]
	if n, err := strconv.Atoi(short); err == nil && n >= 0 {
		g.Index = n
	} else if strings.HasPrefix(short, "GPU-") {
		g.UUID, g.Name = short, qualified
	}
}

func (t *GPUTable) addMIG(parent int, caps []int, short, qualified string) {
	slices.Sort(caps)
	i := slices.IndexFunc(t.MIGs, func(m MIG) bool { return m.Parent == parent && slices.Equal(m.Caps, caps) })
	if i < 0 {
		t.MIGs = append(t.MIGs, MIG{Parent: parent, Caps: caps, Name: qualified})
		i = len(t.MIGs) - 1
	}
	if strings.HasPrefix(short, "MIG-") {
		t.MIGs[i].UUID, t.MIGs[i].Name = short, qualified
	}
}

func (t GPUTable) byMinor(n int) *GPU {
	for i := range t.GPUs {
		if t.GPUs[i].Minor == n {
			return &t.GPUs[i]
		}
	}
	return nil
}

func (t GPUTable) byIndex(n int) *GPU {
	for i := range t.GPUs {
		if t.GPUs[i].Index == n {
			return &t.GPUs[i]
		}
	}
	return nil
}

// byUUID finds a GPU by its UUID or, as CUDA allows, a unique prefix.
func (t GPUTable) byUUID(u string) (*GPU, error) {
	var found *GPU
	for i := range t.GPUs {
		switch {
		case t.GPUs[i].UUID == u:
			return &t.GPUs[i], nil
		case t.GPUs[i].UUID != "" && strings.HasPrefix(t.GPUs[i].UUID, u):
			if found != nil {
				return nil, fmt.Errorf("%s is the start of more than one GPU's UUID", u)
			}
			found = &t.GPUs[i]
		}
	}
	return found, nil
}

// node is a GPU's device node, for messages.
func (g *GPU) node() string { return "/dev/nvidia" + strconv.Itoa(g.Minor) }

// GPUID is one entry of CUDA_VISIBLE_DEVICES as LSF writes it: an
// integer (an nvidia-smi index, or a device minor: see [gpu] lsf_id_kind),
// a GPU UUID (or a unique start of one), a MIG UUID, or the older MIG form
// MIG-GPU-<uuid>/<gi>/<ci>.
type GPUID struct {
	// Raw is the entry as written.
	Raw string
	// Number is the integer of an integer entry (-1 otherwise).
	Number int
	// UUID is the GPU- or MIG- UUID of the other forms.
	UUID string
	// GI and CI are the older MIG form's instances (-1 otherwise).
	GI, CI int
}

var (
	uuidEntry   = lazyRegexp(`^(GPU|MIG)-[0-9A-Za-z-]+$`)
	legacyEntry = lazyRegexp(`^MIG-(GPU-[0-9A-Za-z-]+)/([0-9]{1,4})/([0-9]{1,4})$`)
	intEntry    = lazyRegexp(`^[0-9]{1,6}$`)
)

// ParseVisibleDevices reads a CUDA_VISIBLE_DEVICES value: comma-separated
// entries, spaces around them ignored; "" is no GPU at all. CUDA hides an
// invalid entry and all after it: here it is an error, naming it.
func ParseVisibleDevices(v string) ([]GPUID, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var ids []GPUID
	for _, raw := range strings.Split(v, ",") {
		e := strings.TrimSpace(raw)
		id := GPUID{Raw: e, Number: -1, GI: -1, CI: -1}
		switch {
		case intEntry().MatchString(e):
			id.Number, _ = strconv.Atoi(e)
		case legacyEntry().MatchString(e):
			m := legacyEntry().FindStringSubmatch(e)
			id.UUID = m[1]
			id.GI, _ = strconv.Atoi(m[2])
			id.CI, _ = strconv.Atoi(m[3])
		case uuidEntry().MatchString(e):
			id.UUID = e
		default:
			return nil, fmt.Errorf("%q is not a GPU (an index, GPU-<uuid>, MIG-<uuid> or MIG-GPU-<uuid>/<gi>/<ci>)", e)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// FormatVisibleDevices writes entries back as CUDA_VISIBLE_DEVICES.
func FormatVisibleDevices(ids []GPUID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.Raw
	}
	return strings.Join(s, ",")
}

// notInSpec is the error for an allocated GPU the CDI spec lacks.
func notInSpec(entry, from string) error {
	return fmt.Errorf("GPU %s allocated by LSF (%s) is not in the node's CDI spec for %s: regenerate it (nvidia-ctk cdi generate, or dockless cdi generate)", entry, from, spec.NVIDIAGPU)
}
