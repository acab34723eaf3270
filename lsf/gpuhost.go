package lsf

import (
	"slices"
	"strconv"
	"strings"
)

// ResourceEnforce reports whether an lsf.conf's LSB_RESOURCE_ENFORCE
// includes gpu: LSF then confines the job to its GPUs' device cgroup and
// renumbers CUDA_VISIBLE_DEVICES from 0.
func ResourceEnforce(lsfConf string) bool {
	for _, line := range strings.Split(lsfConf, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.TrimSpace(k) != "LSB_RESOURCE_ENFORCE" {
			continue
		}
		for _, f := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"'`)) {
			if strings.EqualFold(f, "gpu") {
				return true
			}
		}
	}
	return false
}

// DeviceCgroupGPUs are the NVIDIA GPU minors (major 195, not the control
// node 255) a cgroup v1 devices.list allows; nil when it allows every
// device ("a *:* rwm") and so tells nothing.
func DeviceCgroupGPUs(devicesList string) []int {
	minors := []int{}
	for _, line := range strings.Split(devicesList, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		if f[0] == "a" || f[1] == "*:*" {
			return nil
		}
		major, minor, _ := strings.Cut(f[1], ":")
		n, err := strconv.Atoi(minor)
		if f[0] == "c" && major == "195" && err == nil && n != 255 && !slices.Contains(minors, n) {
			minors = append(minors, n)
		}
	}
	slices.Sort(minors)
	return minors
}

// ParseMIGMinors reads /proc/driver/nvidia-caps/mig-minors: one
// "gpu0/gi1/access 21" a line.
func ParseMIGMinors(text string) map[string]int {
	m := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			if n, err := strconv.Atoi(f[1]); err == nil {
				m[f[0]] = n
			}
		}
	}
	return m
}
