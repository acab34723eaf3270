package container

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestInsideCgroups_EveryHierarchyAtOrBelowTheJobs(t *testing.T) {
	job := map[string]string{"pids": "/lsf/job.1", "memory": "/lsf/job.1", "": "/"}
	for _, tc := range []struct {
		name   string
		member map[string]string
		want   bool
	}{
		{"the job cgroup itself", map[string]string{"pids": "/lsf/job.1", "memory": "/lsf/job.1", "": "/"}, true},
		{"below it", map[string]string{"pids": "/lsf/job.1/task.2", "memory": "/lsf/job.1/dockless-leaf-9", "": "/x"}, true},
		{"a sibling whose name begins alike", map[string]string{"pids": "/lsf/job.10", "memory": "/lsf/job.10", "": "/"}, false},
		{"outside in one hierarchy", map[string]string{"pids": "/lsf/job.1", "memory": "/", "": "/"}, false},
		{"a hierarchy missing", map[string]string{"pids": "/lsf/job.1", "": "/"}, false},
	} {
		if got := insideCgroups(tc.member, job); got != tc.want {
			t.Errorf("%s: inside = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCPUList_KernelListFormat(t *testing.T) {
	for _, tc := range []struct {
		cpus []int
		want string
	}{
		{[]int{1}, "1"},
		{[]int{0, 1, 2, 5}, "0-2,5"},
		{[]int{3, 64, 65, 127}, "3,64-65,127"},
	} {
		var set unix.CPUSet
		for _, c := range tc.cpus {
			set.Set(c)
		}
		if got := cpuList(&set); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.cpus, got, tc.want)
		}
	}
}
