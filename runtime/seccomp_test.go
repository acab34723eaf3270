package runtime

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestMain lets the test binary be the compile child, as dockless is.
func TestMain(m *testing.M) {
	if IsSeccompCompile() {
		SeccompCompile()
	}
	os.Exit(m.Run())
}

// mkdirDenied is a profile that allows everything but mkdir and mkdirat
// (EPERM), for the native architecture.
func mkdirDenied() *configs.Seccomp {
	eperm, eperm2 := uint(1), uint(1)
	return &configs.Seccomp{
		DefaultAction: configs.Allow,
		Flags:         []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow},
		Syscalls: []*configs.Syscall{
			{Name: "mkdir", Action: configs.Errno, ErrnoRet: &eperm},
			{Name: "mkdirat", Action: configs.Errno, ErrnoRet: &eperm2},
		},
	}
}

func TestValidFilterArg(t *testing.T) {
	insn := "0600000000000000"
	for _, tc := range []struct {
		name string
		arg  string
		want bool
	}{
		{"flags and one instruction", "4:" + insn, true},
		{"BPF_MAXINSNS instructions", "0:" + strings.Repeat(insn, 4096), true},
		{"more than BPF_MAXINSNS", "0:" + strings.Repeat(insn, 4097), false},
		{"no flags", ":" + insn, false},
		{"no separator", insn, false},
		{"negative flags", "-1:" + insn, false},
		{"no program", "4:", false},
		{"half an instruction", "4:" + insn[:8], false},
		{"upper-case hex", "4:" + strings.ToUpper("0600000000ff7f00"), false},
		{"not hex", "4:06000000000000zz", false},
		{"a recorded failure", uncompilable + "no ptrace", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := validFilterArg(tc.arg); got != tc.want {
				t.Errorf("validFilterArg = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []specs.LinuxSeccompFlag
		want  uint
		err   bool
	}{
		{"none", nil, 0, false},
		{"spec allow", []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagSpecAllow}, 4, false},
		{"log and spec allow", []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}, 6, false},
		{"tsync, which runc ignores", []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}, 0, false},
		{"unknown", []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW"}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := filterFlags(&configs.Seccomp{Flags: tc.flags})
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("filterFlags = %d, %v; want %d (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestLoaderCaps: the loader gets the process's sets to leave (bounding,
// inheritable, ambient, from the process or else the container), and
// libcontainer gives it CAP_SYS_ADMIN, CAP_SETPCAP and a guard outside the
// process's and the container's bounding sets in every set on top of the
// process's, with no_new_privileges too; a process with every capability
// gets no loader.
func TestLoaderCaps(t *testing.T) {
	own := &configs.Capabilities{
		Bounding: []string{"CAP_CHOWN", "CAP_NET_RAW"}, Effective: []string{"CAP_CHOWN"},
		Permitted: []string{"CAP_CHOWN"}, Inheritable: []string{"CAP_NET_RAW"}, Ambient: []string{"CAP_NET_RAW", "CAP_NO_SUCH"},
	}
	known := knownCaps()
	var all []string
	for _, c := range known {
		all = append(all, capName(c))
	}
	highest := capName(known[len(known)-1])
	withAdmin := &configs.Capabilities{Bounding: []string{"CAP_SYS_ADMIN"}}
	yes := true
	for _, tc := range []struct {
		name     string
		cfg      configs.Config
		process  libcontainer.Process
		want     string
		wantCaps *configs.Capabilities
	}{
		{"the process's caps", configs.Config{}, libcontainer.Process{Capabilities: own}, "2001:2000:2000", &configs.Capabilities{
			Bounding: []string{"CAP_CHOWN", "CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SETPCAP"}, Effective: []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SETPCAP"},
			Permitted: []string{"CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_SETPCAP"}, Inheritable: []string{"CAP_NET_RAW", "CAP_SYS_ADMIN", "CAP_SETPCAP"},
			Ambient: []string{"CAP_NET_RAW", "CAP_NO_SUCH", "CAP_SYS_ADMIN", "CAP_SETPCAP"},
		}},
		{"no_new_privileges changes nothing", configs.Config{NoNewPrivileges: true}, libcontainer.Process{NoNewPrivileges: &yes, Capabilities: &configs.Capabilities{}}, "0:0:0", &configs.Capabilities{
			Bounding: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"}, Effective: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"}, Permitted: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"},
			Inheritable: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"}, Ambient: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"},
		}},
		{"the container's caps, none of the process's", configs.Config{Capabilities: &configs.Capabilities{Bounding: []string{"CAP_SETPCAP"}}}, libcontainer.Process{}, "100:0:0", &configs.Capabilities{
			Bounding: []string{"CAP_SETPCAP", "CAP_SYS_ADMIN"}, Effective: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"}, Permitted: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"},
			Inheritable: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"}, Ambient: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP"},
		}},
		{"the guard is another capability where the container's bounding set has CAP_SYS_ADMIN", configs.Config{Capabilities: withAdmin}, libcontainer.Process{Capabilities: &configs.Capabilities{}}, "0:0:0", &configs.Capabilities{
			Bounding: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP", highest}, Effective: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP", highest}, Permitted: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP", highest},
			Inheritable: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP", highest}, Ambient: []string{"CAP_SYS_ADMIN", "CAP_SETPCAP", highest},
		}},
		{"every capability", configs.Config{}, libcontainer.Process{Capabilities: &configs.Capabilities{Bounding: all}}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.process
			got, err := loaderCaps(tc.cfg, &p)
			if got != tc.want || (err != nil) != (tc.want == "") {
				t.Errorf("CAPS %q (%v), want %q", got, err, tc.want)
			}
			if tc.wantCaps != nil && !equalCaps(p.Capabilities, tc.wantCaps) {
				t.Errorf("libcontainer's capabilities for the loader %+v, want %+v", p.Capabilities, tc.wantCaps)
			}
			if tc.process.Capabilities == own && len(own.Bounding) != 2 {
				t.Error("the process's own capabilities were changed")
			}
		})
	}
}

func equalCaps(a, b *configs.Capabilities) bool {
	if a == nil || b == nil {
		return a == b
	}
	eq := func(x, y []string) bool { return strings.Join(x, ",") == strings.Join(y, ",") }
	return eq(a.Bounding, b.Bounding) && eq(a.Effective, b.Effective) && eq(a.Permitted, b.Permitted) &&
		eq(a.Inheritable, b.Inheritable) && eq(a.Ambient, b.Ambient)
}

// TestSeccompLoader_CompilesOnceAndKeepsIt: the first start compiles the
// profile (a child loads it, dockless reads it back from the kernel), the
// next ones read the entry; another profile is another entry; a damaged
// entry is compiled again; a recorded failure leaves the profile to
// libcontainer for a while, then is tried again; a profile with a notify
// action is left to libcontainer.
func TestSeccompLoader_CompilesOnceAndKeepsIt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("reading a filter back takes ptrace as root")
	}
	sl := &JobHelpers{SeccompCache: filepath.Join(t.TempDir(), "seccomp"), Loader: "/dockless-init"}
	ownPID := configs.Namespaces{{Type: configs.NEWPID}, {Type: configs.NEWNS}}
	prepared := func(sc *configs.Seccomp) (string, bool) {
		cfg := &configs.Config{Seccomp: sc, Namespaces: ownPID}
		f := sl.prepare(cfg)
		if (f != nil) != (cfg.Seccomp == nil) || len(cfg.Labels) != 0 || (f != nil && f.Loader != sl.Loader) {
			t.Fatalf("prepared %+v, yet the config keeps its seccomp %v, or has labels %v", f, cfg.Seccomp != nil, cfg.Labels)
		}
		if f == nil {
			return "", false
		}
		return f.Filter, true
	}
	first, ok := prepared(mkdirDenied())
	if !ok || !validFilterArg(first) || !strings.HasPrefix(first, "4:") {
		t.Fatalf("first start: %v, %.40q", ok, first)
	}
	entries, _ := os.ReadDir(sl.SeccompCache)
	if len(entries) != 1 {
		t.Fatalf("%d cache entries, want 1", len(entries))
	}
	entry := filepath.Join(sl.SeccompCache, entries[0].Name())
	before, _ := os.Stat(entry)
	time.Sleep(10 * time.Millisecond)
	if again, _ := prepared(mkdirDenied()); again != first {
		t.Fatal("the second start's filter differs from the first's")
	}
	if after, _ := os.Stat(entry); !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("the second start compiled the profile again")
	}
	other := mkdirDenied()
	other.Syscalls = other.Syscalls[:1]
	if arg, _ := prepared(other); arg == first {
		t.Fatal("another profile got the same filter")
	}
	if entries, _ := os.ReadDir(sl.SeccompCache); len(entries) != 2 {
		t.Fatalf("%d cache entries, want 2", len(entries))
	}
	if err := os.WriteFile(entry, []byte("4:zz"), 0o600); err != nil {
		t.Fatal(err)
	}
	if arg, _ := prepared(mkdirDenied()); arg != first {
		t.Fatal("a damaged entry was not compiled again")
	}
	if err := os.WriteFile(entry, []byte(uncompilable+"ptrace: operation not permitted"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := prepared(mkdirDenied()); ok {
		t.Fatal("a recent failure to compile was not believed")
	}
	old := time.Now().Add(-uncompilableFor - time.Second)
	if err := os.Chtimes(entry, old, old); err != nil {
		t.Fatal(err)
	}
	if arg, _ := prepared(mkdirDenied()); arg != first {
		t.Fatal("an old failure to compile was not tried again")
	}
	notify := mkdirDenied()
	notify.Syscalls[0].Action = configs.Notify
	if _, ok := prepared(notify); ok {
		t.Fatal("a notify action went to the loader")
	}
	hooked := &configs.Config{Seccomp: mkdirDenied(), Namespaces: ownPID, Hooks: configs.Hooks{configs.StartContainer: {configs.NewCommandHook(&configs.Command{Path: "/bin/true"})}}}
	if f := sl.prepare(hooked); f != nil || hooked.Seccomp == nil {
		t.Fatal("a container with a startContainer hook, which runs under libcontainer's filter, went to the loader")
	}
	// The guard capability keeps only the container's own processes from
	// tracing the loader: not those of a user namespace, nor of another
	// container sharing its PID namespace (OCI configs).
	for name, ns := range map[string]configs.Namespaces{
		"a user namespace":         append(slices.Clone(ownPID), configs.Namespace{Type: configs.NEWUSER}),
		"a PID namespace joined":   {{Type: configs.NEWPID, Path: "/proc/1/ns/pid"}, {Type: configs.NEWNS}},
		"the node's PID namespace": {{Type: configs.NEWNS}},
	} {
		cfg := &configs.Config{Seccomp: mkdirDenied(), Namespaces: ns}
		if f := sl.prepare(cfg); f != nil || cfg.Seccomp == nil {
			t.Errorf("a container with %s went to the loader", name)
		}
	}
}

// TestLoadFilter_FromTheStateOrAnEarlierDocklesssLabels: a container's
// loaderFilter is the one kept beside its state; a container an earlier
// dockless made has it in its labels (a process started in it after an
// upgrade still gets its filter); without either, libcontainer loads the
// container's filter; a damaged file is an error, not "no filter".
func TestLoadFilter_FromTheStateOrAnEarlierDocklesssLabels(t *testing.T) {
	labels := []string{"bundle=/b", seccompLabel + "4:0600000000000000", seccompLoaderLabel + "/old/dockless-init"}
	kept := &loaderFilter{Filter: "0:0600000000000000", Loader: "/new/dockless-init"}
	withFile := t.TempDir()
	if err := saveFilter(filepath.Dir(withFile), filepath.Base(withFile), kept); err != nil {
		t.Fatal(err)
	}
	damaged := t.TempDir()
	if err := os.WriteFile(filepath.Join(damaged, filterFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		dir     string
		labels  []string
		want    *loaderFilter
		wantErr bool
	}{
		{"kept beside the state", withFile, labels, kept, false},
		{"an earlier dockless's labels", t.TempDir(), labels, &loaderFilter{Filter: "4:0600000000000000", Loader: "/old/dockless-init"}, false},
		{"neither", t.TempDir(), []string{"bundle=/b"}, nil, false},
		{"a damaged file", damaged, labels, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadFilter(tc.dir, tc.labels)
			if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("loadFilter: %+v, %v; want %+v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

// TestConvert_RefusesDocklessAnnotations: a spec's annotations become
// libcontainer labels, so a spec cannot name the loader or its filter.
func TestConvert_RefusesDocklessAnnotations(t *testing.T) {
	for _, name := range []string{"dockless.seccomp", "dockless.seccomp-loader", "dockless.seccompx"} {
		s := &specs.Spec{Version: specs.Version, Root: &specs.Root{Path: "/"}, Process: &specs.Process{Args: []string{"true"}, Cwd: "/"},
			Linux: &specs.Linux{}, Annotations: map[string]string{name: "/etc/shadow"}}
		if _, err := convert("c", s, false, true); err == nil || !strings.Contains(err.Error(), "dockless's own") {
			t.Errorf("annotation %s: %v", name, err)
		}
	}
}

// TestSeccompIdentity_CoversEveryField: the cache key's encoding of a
// profile changes with every field of libcontainer's seccomp types, and
// those types have no field it does not know (a new one in a runc upgrade
// fails here, not silently in the cache).
func TestSeccompIdentity_CoversEveryField(t *testing.T) {
	known := map[reflect.Type][]string{
		reflect.TypeFor[configs.Seccomp](): {"DefaultAction", "Architectures", "Flags", "Syscalls", "DefaultErrnoRet", "ListenerPath", "ListenerMetadata"},
		reflect.TypeFor[configs.Syscall](): {"Name", "Action", "ErrnoRet", "Args"},
		reflect.TypeFor[configs.Arg]():     {"Index", "Value", "ValueTwo", "Op"},
	}
	for typ, want := range known {
		var got []string
		for i := range typ.NumField() {
			got = append(got, typ.Field(i).Name)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s has fields %v, the key encodes %v", typ, got, want)
		}
	}
	one := uint(1)
	base := func() *configs.Seccomp {
		return &configs.Seccomp{DefaultAction: configs.Errno, Architectures: []string{"amd64"}, Syscalls: []*configs.Syscall{
			{Name: "mkdir", Action: configs.Errno, Args: []*configs.Arg{{Index: 1, Value: 2, ValueTwo: 3, Op: configs.EqualTo}}},
			{Name: "read", Action: configs.Allow},
		}}
	}
	ref := string(seccompIdentity(base()))
	if string(seccompIdentity(base())) != ref {
		t.Fatal("the same profile has two encodings")
	}
	for _, c := range []struct {
		field  string
		change func(*configs.Seccomp)
	}{
		{"DefaultAction", func(s *configs.Seccomp) { s.DefaultAction = configs.Kill }},
		{"DefaultErrnoRet", func(s *configs.Seccomp) { s.DefaultErrnoRet = &one }},
		{"Architectures", func(s *configs.Seccomp) { s.Architectures = append(s.Architectures, "x86") }},
		{"Flags", func(s *configs.Seccomp) { s.Flags = []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog} }},
		{"ListenerPath", func(s *configs.Seccomp) { s.ListenerPath = "/x" }},
		{"ListenerMetadata", func(s *configs.Seccomp) { s.ListenerMetadata = "x" }},
		{"Syscalls (order)", func(s *configs.Seccomp) { s.Syscalls[0], s.Syscalls[1] = s.Syscalls[1], s.Syscalls[0] }},
		{"Syscall.Name", func(s *configs.Seccomp) { s.Syscalls[1].Name = "write" }},
		{"Syscall.Action", func(s *configs.Seccomp) { s.Syscalls[1].Action = configs.Log }},
		{"Syscall.ErrnoRet", func(s *configs.Seccomp) { s.Syscalls[0].ErrnoRet = &one }},
		{"Syscall.Args (moved to the next rule)", func(s *configs.Seccomp) {
			s.Syscalls[1].Args, s.Syscalls[0].Args = s.Syscalls[0].Args, nil
		}},
		{"Arg.Index", func(s *configs.Seccomp) { s.Syscalls[0].Args[0].Index = 0 }},
		{"Arg.Value", func(s *configs.Seccomp) { s.Syscalls[0].Args[0].Value = 9 }},
		{"Arg.ValueTwo", func(s *configs.Seccomp) { s.Syscalls[0].Args[0].ValueTwo = 9 }},
		{"Arg.Op", func(s *configs.Seccomp) { s.Syscalls[0].Args[0].Op = configs.NotEqualTo }},
	} {
		sc := base()
		c.change(sc)
		if string(seccompIdentity(sc)) == ref {
			t.Errorf("changing %s leaves the key's encoding as it was", c.field)
		}
	}
}
