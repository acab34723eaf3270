package spec

import (
	"encoding/json"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The spec fields docker's resource flags set: libcontainer writes them to
// cgroup v1's files and v2's (runtime's TestCgroupFiles_* read those).
func TestResourceFlags_SpecFields(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name string
		opt  Opt
		want string // JSON of linux.resources, "" when it must fail
		err  string
	}{
		{"--cpus 1.5 is a quota of 150ms per 100ms", WithCPULimit(1_500_000_000, 0, 0, 4), `{"cpu":{"quota":150000,"period":100000}}`, ""},
		{"--cpus 0.01", WithCPULimit(10_000_000, 0, 0, 0), `{"cpu":{"quota":1000,"period":100000}}`, ""},
		{"--cpus beyond the node's CPUs", WithCPULimit(5_000_000_000, 0, 0, 4), "", "only 4 CPUs"},
		{"--cpu-quota and --cpu-period", WithCPULimit(0, 50000, 200000, 4), `{"cpu":{"quota":50000,"period":200000}}`, ""},
		{"--cpu-quota -1 is unlimited", WithCPULimit(0, -1, 0, 4), `{"cpu":{"quota":-1}}`, ""},
		{"--cpus with --cpu-period conflict", WithCPULimit(1e9, 0, 100000, 4), "", "conflicting options"},
		{"--cpus with --cpu-quota conflict", WithCPULimit(1e9, 50000, 0, 4), "", "conflicting options"},
		{"--cpu-period below 1ms", WithCPULimit(0, 0, 999, 4), "", "less than 1ms"},
		{"--cpu-quota below 1ms", WithCPULimit(0, 999, 0, 4), "", "less than 1ms"},
		{"nothing asked sets nothing", WithCPULimit(0, 0, 0, 4), `{}`, ""},
		{"--cpuset-cpus and --cpuset-mems", WithCpuset("0-1,3", "0"), `{"cpu":{"cpus":"0-1,3","mems":"0"}}`, ""},
		{"--cpuset-cpus checked again", WithCpuset("x", ""), "", "want a list"},
		{"--pids-limit 64", WithPidsLimit(i64(64)), `{"pids":{"limit":64}}`, ""},
		{"--pids-limit 0 is unlimited", WithPidsLimit(i64(0)), `{"pids":{"limit":-1}}`, ""},
		{"--pids-limit -1 is unlimited", WithPidsLimit(i64(-1)), `{"pids":{"limit":-1}}`, ""},
		{"no --pids-limit", WithPidsLimit(nil), `{}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{}}}
			err := tc.opt(s)
			if tc.want == "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want an error naming %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(s.Linux.Resources); string(got) != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestWithOOMScoreAdj_SetsOnlyWhenAsked(t *testing.T) {
	adj := -500
	s, err := New(WithOOMScoreAdj(&adj))
	if err != nil || s.Process.OOMScoreAdj == nil || *s.Process.OOMScoreAdj != -500 {
		t.Fatalf("got %v (%v)", s.Process.OOMScoreAdj, err)
	}
	if s, _ := New(WithOOMScoreAdj(nil)); s.Process.OOMScoreAdj != nil {
		t.Fatal("unset: the job's own score is inherited, nothing is written")
	}
	bad := 2000
	if _, err := New(WithOOMScoreAdj(&bad)); err == nil {
		t.Fatal("out of range must be refused")
	}
}

// --tmpfs: docker's noexec, nosuid, nodev first, the options after them (a
// later option wins in the kernel's parser), and mounts sorted with the
// binds by depth so that a bind below a tmpfs comes after it.
func TestWithMounts_TmpfsAmongBinds(t *testing.T) {
	s, err := New(WithMounts(
		[]Bind{{Source: "/host/sub", Destination: "/scratch/sub"}},
		[]Tmpfs{{Destination: "/scratch", Options: []string{"size=64m", "exec"}}, {Destination: "/dev/shm"}},
	))
	if err != nil {
		t.Fatal(err)
	}
	var scratch, sub, shm = -1, -1, -1
	for i, m := range s.Mounts {
		switch m.Destination {
		case "/scratch":
			scratch = i
			if m.Type != "tmpfs" || strings.Join(m.Options, ",") != "noexec,nosuid,nodev,size=64m,exec" {
				t.Errorf("tmpfs mount %+v", m)
			}
		case "/scratch/sub":
			sub = i
		case "/dev/shm":
			shm = i
			if m.Type != "tmpfs" || m.Source != "tmpfs" {
				t.Errorf("a tmpfs replaces the default /dev/shm: %+v", m)
			}
		}
	}
	if scratch < 0 || sub < scratch || shm < 0 {
		t.Fatalf("mount order %v", s.Mounts)
	}
	if _, err := New(WithMounts(nil, []Tmpfs{{Destination: "/t", Options: []string{"size=1m,dev"}}})); err == nil {
		t.Fatal("options are checked again: a comma inside one is refused")
	}
}

// --read-only makes the generated /etc files read-only too, as docker's.
func TestWithEtcFiles_ReadOnlyWithTheRootfs(t *testing.T) {
	for _, ro := range []bool{false, true} {
		s, err := New(WithEtcFiles("/state/c1", ro))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range s.Mounts {
			if strings.HasPrefix(m.Destination, "/etc/") {
				n++
				if has := strings.Contains(strings.Join(m.Options, ","), "ro"); has != ro {
					t.Errorf("read-only %v: %+v", ro, m)
				}
			}
		}
		if n != 3 {
			t.Errorf("want hosts, hostname, resolv.conf, got %d mounts", n)
		}
	}
}

// --init: the init is bound read-only and without its setuid bit, after
// every other mount, and runs the command after "--".
func TestWithInit_BindsTheInitAndRunsTheCommandUnderIt(t *testing.T) {
	s, err := New(WithArgs([]string{"sleep", "1"}), WithMounts([]Bind{{Source: "/host/sbin", Destination: "/sbin"}}, nil),
		WithInit(true, "/usr/bin/dockless"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Process.Args, " "); got != "/sbin/docker-init -- sleep 1" {
		t.Errorf("args %q", got)
	}
	last := s.Mounts[len(s.Mounts)-1]
	if last.Destination != InitInContainer || last.Source != "/usr/bin/dockless" || strings.Join(last.Options, ",") != "rbind,rprivate,ro,nosuid,nodev" {
		t.Errorf("the init's mount comes last, read-only and nosuid: %+v", last)
	}
	if s, _ := New(WithArgs([]string{"sh"}), WithInit(false, "/usr/bin/dockless")); len(s.Process.Args) != 1 {
		t.Errorf("without --init: %v", s.Process.Args)
	}
	if _, err := New(WithArgs([]string{"sh"}), WithInit(true, "")); err == nil {
		t.Error("--init without an init on the node must fail")
	}
}

// A joined container's process is the init holding it, without a
// terminal, whatever the request's command; no init on the node refuses.
func TestWithHolder_RunsTheInitInHoldMode(t *testing.T) {
	s, err := New(WithArgs([]string{"sh"}), WithTTY(true), WithHolder("/usr/libexec/dockless-init"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Process.Args, " "); got != "/sbin/docker-init --hold" || s.Process.Terminal {
		t.Errorf("args %q, terminal %v", got, s.Process.Terminal)
	}
	last := s.Mounts[len(s.Mounts)-1]
	if last.Destination != InitInContainer || last.Source != "/usr/libexec/dockless-init" || !strings.Contains(strings.Join(last.Options, ","), "nosuid") {
		t.Errorf("the init's mount: %+v", last)
	}
	if _, err := New(WithArgs([]string{"sh"}), WithHolder("")); err == nil || !strings.Contains(err.Error(), "dockless-init") {
		t.Errorf("no init on the node: %v", err)
	}
}

func TestWithAnnotations_AddsToTheSpecs(t *testing.T) {
	s, err := New(WithAnnotations(map[string]string{"a": "1"}), WithAnnotations(map[string]string{"b": "2"}), WithAnnotations(nil))
	if err != nil || len(s.Annotations) != 2 || s.Annotations["a"] != "1" || s.Annotations["b"] != "2" {
		t.Errorf("%v %v", s.Annotations, err)
	}
}
