package spec

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestArgs_FollowDockerRules(t *testing.T) {
	img := ocispec.ImageConfig{Entrypoint: []string{"/ep"}, Cmd: []string{"default"}}
	for _, tc := range []struct {
		name   string
		img    ocispec.ImageConfig
		ep     []string
		epSet  bool
		cmd    []string
		want   []string
		errMsg string
	}{
		{"entrypoint and cmd of the image", img, nil, false, nil, []string{"/ep", "default"}, ""},
		{"command replaces cmd", img, nil, false, []string{"x", "y"}, []string{"/ep", "x", "y"}, ""},
		{"entrypoint flag drops image cmd", img, []string{"/bin/sh"}, true, nil, []string{"/bin/sh"}, ""},
		{"empty entrypoint flag clears both", img, nil, true, []string{"ls"}, []string{"ls"}, ""},
		{"nothing to run", ocispec.ImageConfig{}, nil, false, nil, nil, "no command specified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Args(tc.img, tc.ep, tc.epSet, tc.cmd)
			if tc.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
					t.Fatalf("want error %q, got %v", tc.errMsg, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("want %v, got %v (%v)", tc.want, got, err)
			}
		})
	}
}

func TestWithEnv_OverridesInPlaceAndAppends(t *testing.T) {
	s, err := New(WithEnv([]string{"A=1", "PATH=/image"}), WithEnv([]string{"A=2", "B=3"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=/image", "A=2", "B=3"}
	if !reflect.DeepEqual(s.Process.Env, want) {
		t.Fatalf("want %v, got %v", want, s.Process.Env)
	}
	if _, err := New(WithEnv([]string{"=x"})); err == nil {
		t.Fatal("an entry without a name must be refused")
	}
}

// A bare KEY removes KEY, as docker's -e KEY when the caller has none.
func TestWithEnv_BareKeyRemoves(t *testing.T) {
	s, err := New(WithEnv([]string{"A=1", "AB=2", "B=3"}), WithEnv([]string{"A", "C"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"PATH=" + DefaultPath, "AB=2", "B=3"}; !reflect.DeepEqual(s.Process.Env, want) {
		t.Fatalf("want %v, got %v", want, s.Process.Env)
	}
}

func TestCapabilities_DockerAddDropRules(t *testing.T) {
	for _, tc := range []struct {
		name      string
		add, drop []string
		want      []string
	}{
		{"defaults unchanged", nil, nil, DefaultCapabilities},
		{"seed: drop all, add five", []string{"chown", "kill", "setpcap", "IPC_LOCK", "CAP_SYS_NICE"}, []string{"all"},
			[]string{"CAP_CHOWN", "CAP_KILL", "CAP_SETPCAP", "CAP_IPC_LOCK", "CAP_SYS_NICE"}},
		{"drop one", nil, []string{"NET_RAW"}, without(DefaultCapabilities, "CAP_NET_RAW")},
		{"drop all only", nil, []string{"ALL"}, []string{}},
		{"add existing is no duplicate", []string{"chown"}, nil, DefaultCapabilities},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Capabilities(DefaultCapabilities, tc.add, tc.drop)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("want %v, got %v (%v)", tc.want, got, err)
			}
		})
	}
	all, _ := Capabilities(DefaultCapabilities, []string{"ALL"}, []string{"SYS_ADMIN"})
	if len(all) != len(AllCapabilities())-1 || slices.Contains(all, "CAP_SYS_ADMIN") {
		t.Errorf("add ALL minus drop: %v", all)
	}
	if _, err := Capabilities(nil, []string{"WIZARDRY"}, nil); err == nil {
		t.Error("unknown capability must be refused")
	}
}

func without(in []string, drop string) []string {
	var out []string
	for _, c := range in {
		if c != drop {
			out = append(out, c)
		}
	}
	return out
}

func TestWithCapabilities_RootUserAndAmbient(t *testing.T) {
	caps := []string{"CAP_CHOWN"}
	for _, tc := range []struct {
		name    string
		uid     uint32
		ambient bool
		want    specs.LinuxCapabilities
	}{
		{"root gets them effective", 0, false, specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}},
		{"a user gets only the bounding set, as docker", 1000, false, specs.LinuxCapabilities{Bounding: caps}},
		{"ambient makes them effective for a user", 1000, true, specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps, Inheritable: caps, Ambient: caps}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(WithUser(specs.User{UID: tc.uid}), WithCapabilities(caps, tc.ambient))
			if err != nil || !reflect.DeepEqual(*s.Process.Capabilities, tc.want) {
				t.Fatalf("want %+v, got %+v", tc.want, s.Process.Capabilities)
			}
		})
	}
}

func TestWithMemory_DockerSwapRules(t *testing.T) {
	const m = 64 << 20
	for _, tc := range []struct {
		name        string
		limit, swap int64
		wantSwap    int64
		errMsg      string
	}{
		{"swap defaults to twice the limit", m, 0, 2 * m, ""},
		{"-1 is unlimited swap: no limit written", m, -1, 0, ""},
		{"explicit swap", m, 2 * m, 2 * m, ""},
		{"swap below memory", m, m / 2, 0, "larger than memory"},
		{"swap without memory", 0, m, 0, "needs --memory"},
		{"below docker's minimum", 1 << 20, 0, 0, "minimum memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(WithMemory(tc.limit, tc.swap))
			if tc.errMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errMsg) {
					t.Fatalf("want error %q, got %v", tc.errMsg, err)
				}
				return
			}
			mem := s.Linux.Resources.Memory
			swap := int64(0)
			if mem.Swap != nil {
				swap = *mem.Swap
			}
			if err != nil || *mem.Limit != tc.limit || swap != tc.wantSwap || *mem.DisableOOMKiller {
				t.Fatalf("got %+v (%v)", s.Linux.Resources.Memory, err)
			}
		})
	}
}

func TestDefault_MatchesDockerPlainRun(t *testing.T) {
	s := Default()
	var dests []string
	for _, m := range s.Mounts {
		dests = append(dests, m.Destination)
	}
	if want := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"}; !reflect.DeepEqual(dests, want) {
		t.Errorf("mounts %v, want %v", dests, want)
	}
	if !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(s.Linux.ReadonlyPaths, "/proc/sys") {
		t.Error("masked and read-only paths missing")
	}
	if len(s.Process.Capabilities.Bounding) != 14 {
		t.Errorf("docker's 14 default capabilities, got %d", len(s.Process.Capabilities.Bounding))
	}
}

func TestWithMounts_ReplaceAndValidate(t *testing.T) {
	s, err := New(WithMounts([]Bind{{Source: "/host/shm", Destination: "/dev/shm"}, {Source: "/d", Destination: "/data", ReadOnly: true}}, nil))
	if err != nil {
		t.Fatal(err)
	}
	var shm, data specs.Mount
	n := 0
	for _, m := range s.Mounts {
		switch m.Destination {
		case "/dev/shm":
			shm, n = m, n+1
		case "/data":
			data = m
		}
	}
	if n != 1 || shm.Type != "bind" || shm.Source != "/host/shm" {
		t.Errorf("a bind replaces the default /dev/shm: %+v", shm)
	}
	if !reflect.DeepEqual(data.Options, []string{"rbind", "rprivate", "ro"}) {
		t.Errorf("read-only bind options: %v", data.Options)
	}
	for _, bad := range []string{"relative", "/", "/data/", "/data/."} {
		if _, err := New(WithMounts([]Bind{{Source: "/x", Destination: bad}}, nil)); err == nil {
			t.Errorf("destination %q must be refused (front ends normalise it first)", bad)
		}
	}
}

func TestDestination_DockersRules(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/data", "/data"}, {"/data/", "/data"}, {"/data/.", "/data"}, {"/data//", "/data"},
		{"/x/../data", "/data"}, {"/../data", "/data"}, {"//data/./x/", "/data/x"},
		{"data", ""}, {"./data", ""}, {"", ""}, {"/", ""}, {"/.", ""}, {"/data/..", ""},
	} {
		got, err := Destination(tc.in)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("Destination(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// A user's bind reaches the spec only through its staged handle, whatever
// the spelling of its destination: a bind that was not staged is an error,
// never a mount of the path the user named.
func TestWithMounts_UserBindsMountOnlyTheirStagedHandle(t *testing.T) {
	s, err := New(WithMounts([]Bind{
		{Source: "/storage1/me/link", Destination: "/data", User: true, Staged: "/run/dockless/containers/ID/binds/0"},
		{Source: "/opt/lsf", Destination: "/opt/lsf"},
	}, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range s.Mounts {
		if m.Destination == "/data" && m.Source != "/run/dockless/containers/ID/binds/0" || m.Destination == "/opt/lsf" && m.Source != "/opt/lsf" {
			t.Errorf("mount %+v", m)
		}
	}
	if _, err := New(WithMounts([]Bind{{Source: "/storage1/me/link", Destination: "/data", User: true}}, nil)); err == nil || !strings.Contains(err.Error(), "not staged") {
		t.Errorf("a user's bind that was not staged must be refused: %v", err)
	}
}

func TestNamespaces_HostNetworkAndIPC(t *testing.T) {
	has := func(s *specs.Spec, t specs.LinuxNamespaceType) bool {
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == t {
				return true
			}
		}
		return false
	}
	s, _ := New(WithNetwork("host"), WithIPC("host"))
	if has(s, specs.NetworkNamespace) || has(s, specs.IPCNamespace) || !has(s, specs.PIDNamespace) {
		t.Errorf("host network and IPC: %+v", s.Linux.Namespaces)
	}
	s, _ = New(WithNetwork("none"))
	if !has(s, specs.NetworkNamespace) {
		t.Error("--network none keeps a private namespace")
	}
	if _, err := New(WithNetwork("bridge")); err == nil {
		t.Error("bridge is not implemented and must be refused")
	}
}

func TestSELinuxLabel_FromDockerParts(t *testing.T) {
	l, err := SELinuxLabel([]string{"user:user_u", "role:user_r", "type:user_t", "level:s0"})
	if err != nil || l != "user_u:user_r:user_t:s0" {
		t.Fatalf("seed label: %q %v", l, err)
	}
	if l, _ := SELinuxLabel([]string{"type:spc_t"}); l != "system_u:system_r:spc_t:s0" {
		t.Errorf("defaults fill the rest: %q", l)
	}
	if _, err := SELinuxLabel([]string{"colour:blue"}); err == nil {
		t.Error("unknown part must be refused")
	}
	s, _ := New(WithSELinuxLabel("user_u:user_r:user_t:s0", false))
	if s.Process.SelinuxLabel != "" {
		t.Error("label applied only where SELinux is enabled")
	}
}

func TestWithSeccomp_DefaultDependsOnCapabilities(t *testing.T) {
	s, err := New(WithSeccomp(""))
	if err != nil || s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno {
		t.Fatalf("docker's default profile: %v", err)
	}
	s, _ = New(WithSeccomp("unconfined"))
	if s.Linux.Seccomp != nil {
		t.Error("unconfined has no profile")
	}
}

// TestWithoutArch_OnlyOnKernelsWithoutIt: the x32 and the x86 (32-bit)
// architectures leave the filter only where the kernel runs no call of
// theirs; the rest of the profile (the other architectures, every rule) is
// untouched.
func TestWithoutArch_OnlyOnKernelsWithoutIt(t *testing.T) {
	full, err := New(WithSeccomp(""))
	if err != nil || !slices.Contains(full.Linux.Seccomp.Architectures, specs.ArchX32) || !slices.Contains(full.Linux.Seccomp.Architectures, specs.ArchX86) {
		t.Fatalf("docker's default profile on amd64 lists x86 and x32: %v", err)
	}
	without := func(dead ...specs.Arch) []specs.Arch {
		return slices.DeleteFunc(slices.Clone(full.Linux.Seccomp.Architectures), func(a specs.Arch) bool { return slices.Contains(dead, a) })
	}
	for _, tc := range []struct {
		name          string
		profile       string
		noX32, noIA32 bool
		want          []specs.Arch
	}{
		{"kernel takes both: all kept", "", false, false, full.Linux.Seccomp.Architectures},
		{"kernel without x32: x32 left out", "", true, false, without(specs.ArchX32)},
		{"kernel without 32-bit x86: x86 left out", "", false, true, without(specs.ArchX86)},
		{"kernel with neither: x86_64 alone", "", true, true, without(specs.ArchX32, specs.ArchX86)},
		{"unconfined: nothing to change", "unconfined", true, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(WithSeccomp(tc.profile), withoutArch(specs.ArchX32, tc.noX32), withoutArch(specs.ArchX86, tc.noIA32))
			if err != nil {
				t.Fatal(err)
			}
			if tc.profile == "unconfined" {
				if s.Linux.Seccomp != nil {
					t.Fatal("unconfined got a profile")
				}
				return
			}
			if got := s.Linux.Seccomp.Architectures; !slices.Equal(got, tc.want) {
				t.Errorf("architectures %v, want %v", got, tc.want)
			}
			if len(s.Linux.Seccomp.Syscalls) != len(full.Linux.Seccomp.Syscalls) {
				t.Errorf("%d rules, want %d", len(s.Linux.Seccomp.Syscalls), len(full.Linux.Seccomp.Syscalls))
			}
			if !slices.Contains(full.Linux.Seccomp.Architectures, specs.ArchX32) || !slices.Contains(full.Linux.Seccomp.Architectures, specs.ArchX86) {
				t.Error("the profile was changed in place")
			}
		})
	}
}

// TestCgroupParent_WhatWasAskedFor: the parent Build placed the container
// below is read back from its spec (docker inspect's CgroupParent); a
// container in dockless's own cgroup has none, not its own cgroup.
func TestCgroupParent_WhatWasAskedFor(t *testing.T) {
	for _, tc := range []struct{ name, parent, want string }{
		{"no --cgroup-parent", "", ""},
		{"--cgroup-parent", "/lsf/job.23870", "/lsf/job.23870"},
		{"a parent with a trailing slash", "/lsf/job.23870/", "/lsf/job.23870"},
		{"the root cgroup", "/", "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Build(&Request{Network: "host", CgroupParent: tc.parent}, ocispec.ImageConfig{Cmd: []string{"true"}}, Host{Rootfs: "/rootfs", CgroupsPath: "dockless-0123456789ab"})
			if err != nil {
				t.Fatal(err)
			}
			if got := CgroupParent(s); got != tc.want {
				t.Errorf("CgroupParent of cgroups path %q = %q, want %q", s.Linux.CgroupsPath, got, tc.want)
			}
		})
	}
}
