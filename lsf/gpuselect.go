package lsf

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
)

// Select is the CDI devices a `dockless run` of a caller who is not
// trusted may have of the allocation a (nil: none): --gpus all (and
// nvidia.com/gpu=all) is the allocation, --gpus N its first N, --gpus
// device=… and --device nvidia.com/gpu=… only GPUs it holds. Anything else
// is refused by the allocation rule. gpus is nil without --gpus.
func (a *Allocation) Select(gpus *spec.GPURequest, names []string) ([]string, error) {
	if a == nil {
		return nil, &policy.Refusal{What: "GPUs", Rule: allocRule, Source: "the job's environment",
			Fix: "only GPUs LSF allocated to your job (CUDA_VISIBLE_DEVICES) may be used: submit with bsub -gpu"}
	}
	var out []string
	if gpus != nil {
		sel, err := a.selectGPUs(*gpus)
		if err != nil {
			return nil, err
		}
		out = append(out, sel...)
	}
	for _, n := range names {
		sel, err := a.selectName(n)
		if err != nil {
			return nil, err
		}
		out = append(out, sel...)
	}
	return slices.Compact(out), nil
}

func (a *Allocation) selectGPUs(r spec.GPURequest) ([]string, error) {
	all := a.Names()
	switch {
	case r.IDs != nil:
		var names []string
		for _, id := range r.IDs {
			sel, err := a.selectName(spec.NVIDIAGPU + "=" + id)
			if err != nil {
				return nil, err
			}
			names = append(names, sel...)
		}
		return names, nil
	case r.All:
		return all, nil
	case r.Count > len(all):
		return nil, a.refuse(fmt.Sprintf("--gpus %d", r.Count), fmt.Sprintf("the job has %d", len(all)))
	}
	return all[:r.Count], nil
}

// selectName checks one CDI device against the allocation by the device
// nodes the spec gives it: only GPU nodes (and MIG capability nodes) of
// the allocation.
func (a *Allocation) selectName(name string) ([]string, error) {
	if name == spec.NVIDIAGPU+"=all" {
		return a.Names(), nil
	}
	if !strings.HasPrefix(name, spec.NVIDIAGPU+"=") {
		return nil, a.refuse("--device "+name, "only "+spec.NVIDIAGPU+" devices of the job's allocation")
	}
	nodes, ok := a.table.Devices[name]
	if !ok {
		return nil, fmt.Errorf("--device %s: no such device in the node's CDI specs (dockless cdi list)", name)
	}
	t := NewGPUTable(map[string][]string{name: nodes})
	var s Slot
	switch {
	case len(t.GPUs) == 1:
		s.GPU = a.table.byMinor(t.GPUs[0].Minor)
	case len(t.MIGs) == 1:
		i := slices.IndexFunc(a.table.MIGs, func(m MIG) bool { return m.Parent == t.MIGs[0].Parent && slices.Equal(m.Caps, t.MIGs[0].Caps) })
		if i >= 0 {
			s.MIG = &a.table.MIGs[i]
		}
	}
	if (s.GPU == nil && s.MIG == nil) || !a.holds(s) {
		return nil, a.refuse("--device "+name, "it is not one of the job's GPUs")
	}
	return []string{name}, nil
}

func (a *Allocation) refuse(what, why string) error {
	return &policy.Refusal{What: what + " (" + why + ")", Rule: allocRule, Source: a.From + "=" + a.Value,
		Fix: "a job uses only the GPUs LSF allocated it: " + strings.Join(a.Names(), ", ")}
}
