package lsf

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/dockless/dockless/policy"
)

// GPUHost is what reading a job's GPU allocation needs of the node besides
// the job's environment (Host.GPUs reads it).
type GPUHost struct {
	// Table is the node's GPUs, from its CDI spec.
	Table GPUTable
	// Enforced: LSB_RESOURCE_ENFORCE in lsf.conf includes gpu, and LSF
	// renumbers CUDA_VISIBLE_DEVICES from 0 inside the job.
	Enforced bool
	// CgroupMinors are the GPU minors the job's device cgroup allows
	// (cgroup v1 devices.list); nil where it cannot tell (cgroup v2, or a
	// cgroup that allows every device).
	CgroupMinors []int
	// MIGMinors is /proc/driver/nvidia-caps/mig-minors: the minor of each
	// MIG capability ("gpu0/gi1/access", "gpu0/gi1/ci0/access").
	MIGMinors map[string]int
}

// Slot is one GPU of an allocation: the entry as LSF wrote it and the GPU
// or MIG device of the CDI spec it names.
type Slot struct {
	ID  GPUID
	GPU *GPU
	MIG *MIG
}

// Allocation is the GPUs LSF gave the job on this host.
type Allocation struct {
	// From says where it was read: CUDA_VISIBLE_DEVICES_ORIG,
	// CUDA_VISIBLE_DEVICES, the per-task CUDA_VISIBLE_DEVICES<n>, or the
	// job's device cgroup; Value is what that held.
	From, Value string
	// Slots are the GPUs in LSF's order.
	Slots []Slot
	// Env are the GPU variables the container gets in place of the job's:
	// CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES as the container's
	// own indexes, CUDA_VISIBLE_DEVICES_ORIG the host's.
	Env []string
	// table is the node's GPUs the slots point into.
	table GPUTable
}

const (
	cvd         = "CUDA_VISIBLE_DEVICES"
	cvdOrig     = "CUDA_VISIBLE_DEVICES_ORIG"
	mpsPipe     = "CUDA_MPS_PIPE_DIRECTORY"
	fromCgroup  = "the job's device cgroup"
	fromTasks   = "the per-task CUDA_VISIBLE_DEVICES<n>"
	allocRule   = "the LSF GPU allocation (gpu.allocation_only)"
	nvidiaVisib = "NVIDIA_VISIBLE_DEVICES"
)

var taskVariable = lazyRegexp(`^CUDA_VISIBLE_DEVICES([0-9]{1,6})$`)

// HasGPUs reports whether the job environment says anything of GPUs: a
// non-empty CUDA_VISIBLE_DEVICES, _ORIG, per-task variable, or an MPS
// pipe directory.
func HasGPUs(env map[string]string) bool {
	for k, v := range env {
		if v != "" && (k == cvd || k == cvdOrig || k == mpsPipe || taskVariable().MatchString(k)) {
			return true
		}
	}
	return false
}

// ReadAllocation reads the GPUs LSF allocated the job on this host, first
// match winning: CUDA_VISIBLE_DEVICES_ORIG (the host's IDs when LSF
// renumbered CUDA_VISIBLE_DEVICES); CUDA_VISIBLE_DEVICES, unless LSF
// renumbers it (LSB_RESOURCE_ENFORCE=gpu) and then the job's device cgroup;
// the union of the per-task CUDA_VISIBLE_DEVICES<n>; under MPS without
// them, the device cgroup. Each entry must name a GPU of the CDI spec,
// integers read as [gpu] lsf_id_kind says. nil: no allocation.
func ReadAllocation(env map[string]string, pol *policy.Policy, h GPUHost) (*Allocation, error) {
	a := &Allocation{table: h.Table}
	ids, err := a.source(env, h)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	kind := pol.GPU.LSFIDKind
	if a.From == fromCgroup {
		kind = "minor"
	}
	for _, id := range ids {
		s, err := h.resolve(id, kind, a.From, pol)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(a.Slots, func(o Slot) bool { return o.GPU == s.GPU && o.MIG == s.MIG }) {
			a.Slots = append(a.Slots, s)
		}
	}
	if a.Env, err = a.environment(env, kind, h, pol); err != nil {
		return nil, err
	}
	return a, nil
}

// source finds where the allocation is and reads its entries.
func (a *Allocation) source(env map[string]string, h GPUHost) ([]GPUID, error) {
	read := func(name string) ([]GPUID, error) {
		a.From, a.Value = name, env[name]
		ids, err := ParseVisibleDevices(env[name])
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", name, env[name], err)
		}
		return ids, nil
	}
	_, hasCVD := env[cvd]
	switch tasks := taskVariables(env); {
	case env[cvdOrig] != "":
		return read(cvdOrig)
	case hasCVD && !h.Enforced:
		return read(cvd)
	case hasCVD:
		return a.cgroup(h, "LSB_RESOURCE_ENFORCE=gpu renumbers CUDA_VISIBLE_DEVICES and LSF set no CUDA_VISIBLE_DEVICES_ORIG")
	case len(tasks) > 0:
		var all []GPUID
		for _, k := range tasks {
			ids, err := read(k)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				if !slices.ContainsFunc(all, func(o GPUID) bool { return o.Raw == id.Raw }) {
					all = append(all, id)
				}
			}
		}
		a.From, a.Value = fromTasks, FormatVisibleDevices(all)
		return all, nil
	case env[mpsPipe] != "":
		return a.cgroup(h, "LSF started MPS for the job without CUDA_VISIBLE_DEVICES")
	}
	return nil, nil
}

// cgroup reads the allocation from the job's device cgroup.
func (a *Allocation) cgroup(h GPUHost, why string) ([]GPUID, error) {
	if h.CgroupMinors == nil {
		return nil, fmt.Errorf("%s, and this node does not tell the job's GPUs in its device cgroup (cgroup v2, or a cgroup that allows every device): dockless cannot know which GPUs are the job's", why)
	}
	a.From = fromCgroup
	var ids []GPUID
	for _, m := range h.CgroupMinors {
		ids = append(ids, GPUID{Raw: strconv.Itoa(m), Number: m, GI: -1, CI: -1})
	}
	a.Value = FormatVisibleDevices(ids)
	return ids, nil
}

// taskVariables are the per-task CUDA_VISIBLE_DEVICES<n> set, by n.
func taskVariables(env map[string]string) []string {
	var keys []string
	for k := range env {
		if taskVariable().MatchString(k) && env[k] != "" {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, _ := strconv.Atoi(taskVariable().FindStringSubmatch(keys[i])[1])
		b, _ := strconv.Atoi(taskVariable().FindStringSubmatch(keys[j])[1])
		return a < b
	})
	return keys
}

// resolve finds the GPU or MIG device of the CDI spec an entry names.
func (h GPUHost) resolve(id GPUID, kind, from string, pol *policy.Policy) (Slot, error) {
	s := Slot{ID: id}
	t := h.Table
	var err error
	switch {
	case id.Number >= 0:
		s.GPU, err = t.byNumber(id.Number, kind, from, pol)
	case id.GI >= 0:
		s.MIG, err = h.legacyMIG(id, from)
	case strings.HasPrefix(id.UUID, "MIG-"):
		if i := slices.IndexFunc(t.MIGs, func(m MIG) bool { return m.UUID == id.UUID }); i >= 0 {
			s.MIG = &t.MIGs[i]
		} else {
			err = notInSpec(id.Raw, from)
		}
	default:
		if s.GPU, err = t.byUUID(id.UUID); err == nil && s.GPU == nil {
			err = notInSpec(id.Raw, from)
		}
	}
	return s, err
}

// byNumber reads an integer entry as kind says: an nvidia-smi index, a
// device minor, or ("") either, refused where the two readings differ.
func (t GPUTable) byNumber(n int, kind, from string, pol *policy.Policy) (*GPU, error) {
	idx, minor := t.byIndex(n), t.byMinor(n)
	g := idx
	switch kind {
	case "minor":
		g = minor
	case "":
		if idx != minor {
			return nil, &policy.Refusal{
				What:   fmt.Sprintf("GPU %d allocated by LSF (%s): as an nvidia-smi index it is %s, as a device minor %s", n, from, describe(idx), describe(minor)),
				Rule:   "[gpu] lsf_id_kind",
				Fix:    `this node's GPU indexes and minors differ: say which LSF means, lsf_id_kind = "index" or "minor"`,
				Source: pol.Source(),
			}
		}
	}
	if g == nil {
		return nil, notInSpec(strconv.Itoa(n), from)
	}
	return g, nil
}

func describe(g *GPU) string {
	if g == nil {
		return "no GPU of the CDI spec"
	}
	return g.node()
}

// legacyMIG finds the MIG device of a MIG-GPU-<uuid>/<gi>/<ci> entry: the
// one of that GPU whose capability nodes are the instances' (mig-minors).
func (h GPUHost) legacyMIG(id GPUID, from string) (*MIG, error) {
	parent, err := h.Table.byUUID(id.UUID)
	if err != nil || parent == nil {
		return nil, notInSpec(id.Raw, from)
	}
	var caps []int
	for _, k := range []string{
		fmt.Sprintf("gpu%d/gi%d/access", parent.Minor, id.GI),
		fmt.Sprintf("gpu%d/gi%d/ci%d/access", parent.Minor, id.GI, id.CI),
	} {
		m, ok := h.MIGMinors[k]
		if !ok {
			return nil, fmt.Errorf("MIG device %s allocated by LSF (%s): /proc/driver/nvidia-caps/mig-minors has no %s", id.Raw, from, k)
		}
		caps = append(caps, m)
	}
	for i, m := range h.Table.MIGs {
		if m.Parent == parent.Minor && slices.Contains(m.Caps, caps[0]) && slices.Contains(m.Caps, caps[1]) {
			return &h.Table.MIGs[i], nil
		}
	}
	return nil, notInSpec(id.Raw, from)
}

// Names are the CDI devices that give the allocation, in LSF's order.
func (a *Allocation) Names() []string {
	var names []string
	for _, s := range a.Slots {
		n := s.name()
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

func (s Slot) name() string {
	if s.MIG != nil {
		return s.MIG.Name
	}
	return s.GPU.Name
}

func (s Slot) parent() int {
	if s.MIG != nil {
		return s.MIG.Parent
	}
	return s.GPU.Minor
}

// ranks are the container's own index of each GPU it gets, by minor: the
// GPUs in the container are numbered from 0 in the host's order (nvidia-smi
// index, or the minor where the spec names a GPU by UUID only).
func (a *Allocation) ranks() map[int]int {
	var gpus []*GPU
	for _, s := range a.Slots {
		if g := a.table.byMinor(s.parent()); g != nil && !slices.Contains(gpus, g) {
			gpus = append(gpus, g)
		}
	}
	byIndex := !slices.ContainsFunc(gpus, func(g *GPU) bool { return g.Index < 0 })
	sort.Slice(gpus, func(i, j int) bool {
		if byIndex {
			return gpus[i].Index < gpus[j].Index
		}
		return gpus[i].Minor < gpus[j].Minor
	})
	r := map[int]int{}
	for i, g := range gpus {
		r[g.Minor] = i
	}
	return r
}

// environment is the container's GPU variables (Allocation.Env). Entries
// LSF wrote as host integers become the container's indexes, in LSF's
// order (allocation 2,0 is 1,0 in the container); UUIDs and MIG entries
// name the same device everywhere and stay. Where LSF renumbered the
// variables itself (_ORIG, the device cgroup) the per-task ones stay too.
func (a *Allocation) environment(env map[string]string, kind string, h GPUHost, pol *policy.Policy) ([]string, error) {
	ranks := a.ranks()
	visible := make([]string, len(a.Slots))
	for i, s := range a.Slots {
		visible[i] = s.ID.Raw
		if s.ID.Number >= 0 {
			visible[i] = strconv.Itoa(ranks[s.parent()])
		}
	}
	vars := map[string]string{nvidiaVisib: strings.Join(visible, ",")}
	_, hasCVD := env[cvd]
	switch a.From {
	case cvd:
		vars[cvdOrig], vars[cvd] = env[cvd], vars[nvidiaVisib]
	case cvdOrig:
		if hasCVD {
			vars[cvd] = vars[nvidiaVisib]
		}
	case fromCgroup:
		if hasCVD {
			vars[nvidiaVisib] = env[cvd]
		}
	}
	if a.From == cvd || a.From == fromTasks {
		for _, k := range taskVariables(env) {
			v, err := a.translate(k, env[k], ranks, kind, h, pol)
			if err != nil {
				return nil, err
			}
			vars[k] = v
		}
	}
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + vars[k]
	}
	return out, nil
}

// translate rewrites a per-task variable's host integers as the
// container's indexes; each must be a GPU of the allocation.
func (a *Allocation) translate(name, value string, ranks map[int]int, kind string, h GPUHost, pol *policy.Policy) (string, error) {
	ids, err := ParseVisibleDevices(value)
	if err != nil {
		return "", fmt.Errorf("%s=%s: %w", name, value, err)
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.Raw
		if id.Number < 0 {
			continue
		}
		s, err := h.resolve(id, kind, name, pol)
		if err != nil {
			return "", err
		}
		if !a.holds(s) {
			return "", fmt.Errorf("%s=%s names GPU %s, which is not in the job's allocation (%s=%s)", name, value, id.Raw, a.From, a.Value)
		}
		out[i] = strconv.Itoa(ranks[s.parent()])
	}
	return strings.Join(out, ","), nil
}

// holds reports whether s is within the allocation: one of its GPUs or
// MIG devices, or a MIG device of one of its whole GPUs.
func (a *Allocation) holds(s Slot) bool {
	for _, o := range a.Slots {
		switch {
		case s.GPU != nil && o.GPU == s.GPU,
			s.MIG != nil && o.MIG == s.MIG,
			s.MIG != nil && o.GPU != nil && o.GPU.Minor == s.MIG.Parent:
			return true
		}
	}
	return false
}
