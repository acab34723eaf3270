package lsf

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
)

const (
	uuid0 = "GPU-00000000-0000-0000-0000-000000000000"
	uuid1 = "GPU-00000000-0000-0000-0000-000000000001"
	uuid2 = "GPU-00000000-0000-0000-0000-000000000002"
	uuid3 = "GPU-00000000-0000-0000-0000-000000000003"
	mig0  = "MIG-11111111-0000-0000-0000-000000000000"
)

// fakeNode is the CDI devices nvidia-ctk generates (index and UUID names,
// all, a MIG device) for four GPUs whose indexes 1 and 3 are on minors 3
// and 1: index and minor differ there.
func fakeNode() GPUTable {
	devs := map[string][]string{"nvidia.com/gpu=all": {"/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia2", "/dev/nvidia3"}}
	for index, minor := range []string{"0", "3", "2", "1"} {
		idx := string(rune('0' + index))
		devs["nvidia.com/gpu="+idx] = []string{"/dev/nvidia" + minor}
		devs["nvidia.com/gpu="+[]string{uuid0, uuid1, uuid2, uuid3}[index]] = []string{"/dev/nvidia" + minor}
	}
	mig := []string{"/dev/nvidia0", "/dev/nvidia-caps/nvidia-cap21", "/dev/nvidia-caps/nvidia-cap22"}
	devs["nvidia.com/gpu=0:0"], devs["nvidia.com/gpu="+mig0] = mig, mig
	return NewGPUTable(devs)
}

func TestNewGPUTable_GPUsAndMIGDevicesOfTheSpec(t *testing.T) {
	tab := fakeNode()
	want := []GPU{
		{Index: 0, Minor: 0, UUID: uuid0, Name: "nvidia.com/gpu=" + uuid0},
		{Index: 3, Minor: 1, UUID: uuid3, Name: "nvidia.com/gpu=" + uuid3},
		{Index: 2, Minor: 2, UUID: uuid2, Name: "nvidia.com/gpu=" + uuid2},
		{Index: 1, Minor: 3, UUID: uuid1, Name: "nvidia.com/gpu=" + uuid1},
	}
	if !reflect.DeepEqual(tab.GPUs, want) {
		t.Errorf("GPUs:\n got %+v\nwant %+v", tab.GPUs, want)
	}
	if len(tab.MIGs) != 1 || !reflect.DeepEqual(tab.MIGs[0], MIG{Parent: 0, UUID: mig0, Caps: []int{21, 22}, Name: "nvidia.com/gpu=" + mig0}) {
		t.Errorf("MIG devices: %+v", tab.MIGs)
	}
	byIndexOnly := NewGPUTable(map[string][]string{"nvidia.com/gpu=0": {"/dev/nvidia0"}})
	if g := byIndexOnly.GPUs; len(g) != 1 || g[0].Name != "nvidia.com/gpu=0" || g[0].UUID != "" {
		t.Errorf("a spec without UUID names: %+v", g)
	}
}

// TestReadAllocation_TheGPUsLSFGaveTheJob is §1.9's G1, G3-G5, G7, G8,
// G10 and G11 on the translation: which CDI devices the container gets
// and its GPU variables.
func TestReadAllocation_TheGPUsLSFGaveTheJob(t *testing.T) {
	host := GPUHost{Table: fakeNode(), MIGMinors: map[string]int{"gpu0/gi1/access": 21, "gpu0/gi1/ci0/access": 22}}
	enforced := host
	enforced.Enforced, enforced.CgroupMinors = true, []int{1}
	name := func(u string) string { return "nvidia.com/gpu=" + u }
	for _, tc := range []struct {
		what  string
		env   map[string]string
		host  GPUHost
		kind  string
		names []string
		vars  []string
		err   string
	}{
		{what: "G1 CUDA_VISIBLE_DEVICES=2,0: the container's own indexes in LSF's order",
			env: map[string]string{"CUDA_VISIBLE_DEVICES": "2,0"}, names: []string{name(uuid2), name(uuid0)},
			vars: []string{"CUDA_VISIBLE_DEVICES=1,0", "CUDA_VISIBLE_DEVICES_ORIG=2,0", "NVIDIA_VISIBLE_DEVICES=1,0"}},
		{what: "G3 enforcement renumbered CUDA_VISIBLE_DEVICES: the host's IDs are in _ORIG",
			env: map[string]string{"CUDA_VISIBLE_DEVICES": "0", "CUDA_VISIBLE_DEVICES_ORIG": "2"}, host: enforced, names: []string{name(uuid2)},
			vars: []string{"CUDA_VISIBLE_DEVICES=0", "NVIDIA_VISIBLE_DEVICES=0"}},
		{what: "G4 by UUID, and by a unique start of one",
			env: map[string]string{"CUDA_VISIBLE_DEVICES": uuid1 + ", GPU-00000000-0000-0000-0000-000000000003"}, names: []string{name(uuid1), name(uuid3)},
			vars: []string{"CUDA_VISIBLE_DEVICES=" + uuid1 + ",GPU-00000000-0000-0000-0000-000000000003", "CUDA_VISIBLE_DEVICES_ORIG=" + uuid1 + ", GPU-00000000-0000-0000-0000-000000000003", "NVIDIA_VISIBLE_DEVICES=" + uuid1 + ",GPU-00000000-0000-0000-0000-000000000003"}},
		{what: "G5 the older MIG form, through mig-minors",
			env: map[string]string{"CUDA_VISIBLE_DEVICES": "MIG-" + uuid0 + "/1/0"}, names: []string{name(mig0)},
			vars: []string{"CUDA_VISIBLE_DEVICES=MIG-" + uuid0 + "/1/0", "CUDA_VISIBLE_DEVICES_ORIG=MIG-" + uuid0 + "/1/0", "NVIDIA_VISIBLE_DEVICES=MIG-" + uuid0 + "/1/0"}},
		{what: "MIG by UUID", env: map[string]string{"CUDA_VISIBLE_DEVICES": mig0}, names: []string{name(mig0)},
			vars: []string{"CUDA_VISIBLE_DEVICES=" + mig0, "CUDA_VISIBLE_DEVICES_ORIG=" + mig0, "NVIDIA_VISIBLE_DEVICES=" + mig0}},
		{what: "per-task variables without CUDA_VISIBLE_DEVICES (MPS nocvd): their union, each renumbered",
			env: map[string]string{"CUDA_VISIBLE_DEVICES1": "2", "CUDA_VISIBLE_DEVICES0": "0,2", "CUDA_MPS_PIPE_DIRECTORY": "/tmp/mps"}, names: []string{name(uuid0), name(uuid2)},
			vars: []string{"CUDA_VISIBLE_DEVICES0=0,1", "CUDA_VISIBLE_DEVICES1=1", "NVIDIA_VISIBLE_DEVICES=0,1"}},
		{what: "per-task variables beside CUDA_VISIBLE_DEVICES are renumbered too",
			env: map[string]string{"CUDA_VISIBLE_DEVICES": "2,0", "CUDA_VISIBLE_DEVICES0": "2"}, names: []string{name(uuid2), name(uuid0)},
			vars: []string{"CUDA_VISIBLE_DEVICES=1,0", "CUDA_VISIBLE_DEVICES0=1", "CUDA_VISIBLE_DEVICES_ORIG=2,0", "NVIDIA_VISIBLE_DEVICES=1,0"}},
		{what: "a per-task variable outside the allocation", env: map[string]string{"CUDA_VISIBLE_DEVICES": "2", "CUDA_VISIBLE_DEVICES0": "0"},
			err: "not in the job's allocation"},
		{what: "G7 no GPU variable: no GPU", env: map[string]string{"LSB_JOBID": "1"}},
		{what: "an empty CUDA_VISIBLE_DEVICES hides every GPU", env: map[string]string{"CUDA_VISIBLE_DEVICES": ""}},
		{what: "G8 a GPU the spec lacks", env: map[string]string{"CUDA_VISIBLE_DEVICES": "7"}, err: "regenerate it"},
		{what: "a UUID the spec lacks", env: map[string]string{"CUDA_VISIBLE_DEVICES": "GPU-ffff"}, err: "not in the node's CDI spec"},
		{what: "a start shared by several UUIDs", env: map[string]string{"CUDA_VISIBLE_DEVICES": "GPU-0000"}, err: "more than one"},
		{what: "not a GPU", env: map[string]string{"CUDA_VISIBLE_DEVICES": "0,gpu1"}, err: `"gpu1" is not a GPU`},
		{what: "G10 enforcement without _ORIG: the job's device cgroup, by minor",
			env: map[string]string{"CUDA_VISIBLE_DEVICES": "0"}, host: enforced, names: []string{name(uuid3)},
			vars: []string{"NVIDIA_VISIBLE_DEVICES=0"}},
		{what: "enforcement where the device cgroup cannot tell (cgroup v2)",
			env: map[string]string{"CUDA_VISIBLE_DEVICES": "0"}, host: GPUHost{Table: fakeNode(), Enforced: true}, err: "cannot know which GPUs"},
		{what: "G11 an ID whose index and minor are different GPUs, lsf_id_kind unset",
			env: map[string]string{"CUDA_VISIBLE_DEVICES": "1"}, err: "[gpu] lsf_id_kind"},
		{what: "lsf_id_kind index", env: map[string]string{"CUDA_VISIBLE_DEVICES": "1"}, kind: "index", names: []string{name(uuid1)},
			vars: []string{"CUDA_VISIBLE_DEVICES=0", "CUDA_VISIBLE_DEVICES_ORIG=1", "NVIDIA_VISIBLE_DEVICES=0"}},
		{what: "lsf_id_kind minor, the in-container order still the host's index order",
			env: map[string]string{"CUDA_VISIBLE_DEVICES": "3,1"}, kind: "minor", names: []string{name(uuid1), name(uuid3)},
			vars: []string{"CUDA_VISIBLE_DEVICES=0,1", "CUDA_VISIBLE_DEVICES_ORIG=3,1", "NVIDIA_VISIBLE_DEVICES=0,1"}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			h := tc.host
			if h.Table.GPUs == nil {
				h = host
			}
			pol := policy.Default()
			pol.GPU.LSFIDKind = tc.kind
			a, err := ReadAllocation(tc.env, pol, h)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want an error with %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.names == nil {
				if a != nil {
					t.Fatalf("no allocation, got %+v", a)
				}
				return
			}
			if !reflect.DeepEqual(a.Names(), tc.names) || !reflect.DeepEqual(a.Env, tc.vars) {
				t.Errorf("CDI devices %v, env %v\nwant %v, %v", a.Names(), a.Env, tc.names, tc.vars)
			}
		})
	}
}

// TestAllocation_SelectRefusesGPUsOutsideIt: a `dockless run` of a caller
// who is not trusted gets only GPUs of their allocation (G7's --device).
func TestAllocation_SelectRefusesGPUsOutsideIt(t *testing.T) {
	a, err := ReadAllocation(map[string]string{"CUDA_VISIBLE_DEVICES": "2,0"}, policy.Default(), GPUHost{Table: fakeNode()})
	if err != nil {
		t.Fatal(err)
	}
	gpus := func(v string) *spec.GPURequest {
		r, err := spec.ParseGPURequest(v)
		if err != nil {
			t.Fatal(err)
		}
		return &r
	}
	for _, tc := range []struct {
		what  string
		a     *Allocation
		gpus  *spec.GPURequest
		names []string
		want  string
	}{
		{"--gpus all is the allocation", a, gpus("all"), nil, "nvidia.com/gpu=" + uuid2 + " nvidia.com/gpu=" + uuid0},
		{"--gpus 1 is its first GPU", a, gpus("1"), nil, "nvidia.com/gpu=" + uuid2},
		{"--gpus device= by index and UUID", a, gpus(`"device=0,` + uuid2 + `"`), nil, "nvidia.com/gpu=0 nvidia.com/gpu=" + uuid2},
		{"--device nvidia.com/gpu=all is the allocation", a, nil, []string{"nvidia.com/gpu=all"}, "nvidia.com/gpu=" + uuid2 + " nvidia.com/gpu=" + uuid0},
		{"a MIG device of an allocated GPU", a, nil, []string{"nvidia.com/gpu=0:0"}, "nvidia.com/gpu=0:0"},
		{"--gpus 3", a, gpus("3"), nil, "refused by " + allocRule},
		{"--device nvidia.com/gpu=3", a, nil, []string{"nvidia.com/gpu=3"}, "refused by " + allocRule},
		{"--device of another kind", a, nil, []string{"nvidia.com/mofed=all"}, "refused by " + allocRule},
		{"a device no spec has", a, nil, []string{"nvidia.com/gpu=9"}, "no such device"},
		{"no allocation at all", nil, gpus("all"), nil, "refused by " + allocRule},
	} {
		t.Run(tc.what, func(t *testing.T) {
			got, err := tc.a.Select(tc.gpus, tc.names)
			if err != nil {
				var r *policy.Refusal
				if strings.HasPrefix(tc.want, "refused") && !errors.As(err, &r) {
					t.Errorf("not a refusal: %v", err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("got %v, want %q", err, tc.want)
				}
				return
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("got %v, want %s", got, tc.want)
			}
		})
	}
}

// TestLSFJob_GPUs: the job gets the CDI devices of its allocation and its
// GPU variables rewritten (the seed's --gpus all); no GPU variable, no
// GPU and the node's GPUs are not even read; MPS gets the pipe directory
// and the host's IPC, or is refused by [gpu] mps_host_ipc.
func TestLSFJob_GPUs(t *testing.T) {
	read := 0
	h := seedHost()
	h.GPUs = func() (GPUHost, error) { read++; return GPUHost{Table: fakeNode()}, nil }
	run := func(env map[string]string, pol *policy.Policy) (*Job, error) {
		e := seedEnv()
		for k, v := range env {
			e[k] = v
		}
		return FromEnv(e, []string{"date"}, pol, seedCaller(), h)
	}
	job, err := run(nil, policy.Default())
	if err != nil || job.Req.CDIDevices != nil || read != 0 {
		t.Fatalf("no allocation: %v %v, GPUs read %d times", job.Req.CDIDevices, err, read)
	}
	job, err = run(map[string]string{"CUDA_VISIBLE_DEVICES": "2,0"}, policy.Default())
	if err != nil || len(job.Req.CDIDevices) != 2 || job.GPUs == nil {
		t.Fatalf("allocation 2,0: %+v %v", job.Req, err)
	}
	env := strings.Join(job.Req.Env, " ")
	if !strings.Contains(env, " CUDA_VISIBLE_DEVICES=1,0 ") && !strings.HasSuffix(env, " CUDA_VISIBLE_DEVICES=1,0") || strings.Contains(env, "CUDA_VISIBLE_DEVICES=2,0") {
		t.Errorf("the job's CUDA_VISIBLE_DEVICES is the container's: %s", env)
	}
	job, err = run(map[string]string{"CUDA_VISIBLE_DEVICES": "0", "CUDA_MPS_PIPE_DIRECTORY": "/scratch/mps", "LSF_DOCKER_IPC": "private"}, policy.Default())
	if err != nil || job.Req.IPC != "host" || job.Sources[len(job.Sources)-1].Bind.Destination != "/scratch/mps" || !job.Sources[len(job.Sources)-1].Owned {
		t.Fatalf("MPS: %+v %v", job, err)
	}
	job, err = run(map[string]string{"CUDA_VISIBLE_DEVICES": "0", "CUDA_MPS_PIPE_DIRECTORY": "/tmp/23870.tmpdir/mps"}, policy.Default())
	if err != nil || job.Sources[len(job.Sources)-1].What == "MPS directory (CUDA_MPS_PIPE_DIRECTORY)" {
		t.Fatalf("an MPS pipe in the job tmpdir is bound with it: %+v %v", job.Sources, err)
	}
	pol := policy.Default()
	pol.GPU.MPSHostIPC = false
	if _, err := run(map[string]string{"CUDA_VISIBLE_DEVICES": "0", "CUDA_MPS_PIPE_DIRECTORY": "/scratch/mps"}, pol); err == nil || !strings.Contains(err.Error(), "[gpu] mps_host_ipc") {
		t.Errorf("MPS without mps_host_ipc: %v", err)
	}
	h.GPUs = func() (GPUHost, error) { return GPUHost{}, nil }
	if job, err := run(map[string]string{"CUDA_VISIBLE_DEVICES": "0"}, policy.Default()); err != nil || job.Req.CDIDevices != nil || !strings.Contains(strings.Join(job.Warnings, "\n"), "dockless cdi generate") {
		t.Errorf("no CDI spec: no GPU and a warning: %+v %v", job, err)
	}
}

// FuzzParseVisibleDevices: CUDA_VISIBLE_DEVICES is the job's to set. The
// parser refuses or returns entries of one of the four forms that read
// back the same; none panics.
func FuzzParseVisibleDevices(f *testing.F) {
	for _, s := range []string{"2,0", "", " 1 , 3", uuid0, "MIG-" + uuid0 + "/1/0", mig0, "0,,1", "-1", "99999999999999999999", "GPU-", "MIG-GPU-x/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ids, err := ParseVisibleDevices(in)
		if err != nil {
			return
		}
		for _, id := range ids {
			forms := 0
			if id.Number >= 0 {
				forms++
			}
			if id.GI >= 0 && id.CI >= 0 && strings.HasPrefix(id.UUID, "GPU-") {
				forms++
			}
			if id.GI < 0 && (strings.HasPrefix(id.UUID, "GPU-") || strings.HasPrefix(id.UUID, "MIG-")) {
				forms++
			}
			if forms != 1 || strings.ContainsAny(id.Raw, ", \t\n") {
				t.Fatalf("%q: entry %+v", in, id)
			}
		}
		again, err := ParseVisibleDevices(FormatVisibleDevices(ids))
		if err != nil || !reflect.DeepEqual(again, ids) {
			t.Fatalf("%q: %+v does not read back (%+v, %v)", in, ids, again, err)
		}
	})
}

func TestHostFacts_LSFConfDeviceCgroupMIGMinors(t *testing.T) {
	for conf, want := range map[string]bool{
		"LSB_RESOURCE_ENFORCE=\"cpu memory gpu\"\n": true, "# LSB_RESOURCE_ENFORCE=\"gpu\"\n": false,
		"LSB_RESOURCE_ENFORCE = gpu": true, "LSB_RESOURCE_ENFORCE=\"cpu memory\"": false, "LSF_GPU_AUTOCONFIG=Y": false,
	} {
		if got := ResourceEnforce(conf); got != want {
			t.Errorf("%q: %v, want %v", conf, got, want)
		}
	}
	if got := DeviceCgroupGPUs("c 1:3 rwm\nc 195:255 rwm\nc 195:2 rw\nc 195:0 rwm\nc 195:2 m\n"); !reflect.DeepEqual(got, []int{0, 2}) {
		t.Errorf("devices.list: %v", got)
	}
	if got := DeviceCgroupGPUs("a *:* rwm\n"); got != nil {
		t.Errorf("a cgroup that allows every device tells nothing: %v", got)
	}
	if got := ParseMIGMinors("gpu0/gi1/access 21\ngpu0/gi1/ci0/access 22\nconfig 1\n"); got["gpu0/gi1/ci0/access"] != 22 || len(got) != 3 {
		t.Errorf("mig-minors: %v", got)
	}
}
