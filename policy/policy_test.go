package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestLoad_DefaultsAreTheSeed(t *testing.T) {
	DefaultPath = filepath.Join(t.TempDir(), "absent.toml")
	p, err := Load(DefaultPath)
	if err != nil {
		t.Fatal(err)
	}
	caps, _ := p.Capabilities()
	if strings.Join(caps, ",") != "CAP_CHOWN,CAP_KILL,CAP_SETPCAP,CAP_IPC_LOCK,CAP_SYS_NICE" || p.Job.Memory != "4096m" ||
		p.Job.CPUShares != 2 || !p.Job.NoNewPrivileges || p.Job.AllowRoot || len(p.Job.Devices) != 5 ||
		strings.Join(p.Volumes.AllowedPrefixes, ",") != "/storage1,/storage2,/scratch1" || !p.Volumes.DirectoriesOnly {
		t.Fatalf("defaults: %+v", p)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml")); err == nil {
		t.Error("a named policy file that is missing is an error")
	}
}

func TestLoad_OverlaysTheFileAndRefusesUnknownKeys(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the policy file must be root-owned")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "p.toml")
	if err := os.WriteFile(p, []byte("[job]\nmemory = \"8g\"\n[volumes]\nallowed_prefixes = [\"/gpfs\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pol, err := Load(p)
	if err != nil || pol.Job.Memory != "8g" || pol.Job.CPUShares != 2 || pol.Volumes.AllowedPrefixes[0] != "/gpfs" {
		t.Fatalf("overlay: %+v %v", pol, err)
	}
	if err := os.WriteFile(p, []byte("[job]\nmemroy = \"8g\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "memroy") {
		t.Fatalf("unknown key: %v", err)
	}
}

// TestLoad_RefusesSwitchesThatGiveHostPrivileges: a switch whose effect
// reaches beyond the container is refused at load, naming the key and the
// fix, unless its acknowledgement key is set too.
func TestLoad_RefusesSwitchesThatGiveHostPrivileges(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the policy file must be root-owned")
	}
	const ackAmbient = "i_understand_ambient_capabilities_give_host_privileges = true\n"
	const ackNNP = "i_understand_no_new_privileges_off_gives_root = true\n"
	for _, tc := range []struct {
		name, job string
		want      []string // in the error; none: loads
	}{
		{"ambient capabilities with the default list", "ambient_capabilities = true\n",
			[]string{"[job] ambient_capabilities = true", "CAP_CHOWN", "i_understand_ambient_capabilities_give_host_privileges"}},
		{"ambient DAC_OVERRIDE", "ambient_capabilities = true\ncapabilities = [\"IPC_LOCK\", \"DAC_OVERRIDE\"]\n",
			[]string{"CAP_DAC_OVERRIDE"}},
		{"ambient SETUID", "ambient_capabilities = true\ncapabilities = [\"SETUID\"]\n", []string{"CAP_SETUID"}},
		{"ambient NET_RAW on the host network", "ambient_capabilities = true\ncapabilities = [\"NET_RAW\"]\n", []string{"CAP_NET_RAW"}},
		{"ambient capabilities acknowledged", "ambient_capabilities = true\n" + ackAmbient, nil},
		{"ambient resource capabilities only", "ambient_capabilities = true\ncapabilities = [\"IPC_LOCK\", \"SYS_NICE\", \"KILL\", \"SETPCAP\"]\n", nil},
		{"the default list in the bounding set only", "capabilities = [\"CHOWN\", \"DAC_OVERRIDE\"]\n", nil},
		{"no_new_privileges off", "no_new_privileges = false\n",
			[]string{"[job] no_new_privileges = false", "i_understand_no_new_privileges_off_gives_root"}},
		{"no_new_privileges off acknowledged", "no_new_privileges = false\n" + ackNNP, nil},
		{"an acknowledgement does not cover the other switch", "no_new_privileges = false\nambient_capabilities = true\n" + ackAmbient,
			[]string{"[job] no_new_privileges = false"}},
		{"an unknown capability", "capabilities = [\"CHOWN\", \"FLY\"]\n", []string{"[job] capabilities", "FLY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "dockless.toml")
			if err := os.WriteFile(p, []byte("[job]\n"+tc.job), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range append(tc.want, p) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the refusal does not name %q: %v", w, err)
				}
			}
		})
	}
}

func TestUnderPrefix_OnPathBoundaries(t *testing.T) {
	pre := []string{"/storage1", "/scratch1/"}
	for p, want := range map[string]bool{
		"/storage1": true, "/storage1/lab": true, "/scratch1/x/y": true,
		"/storage1evil": false, "/storage": false, "/etc": false, "/": false,
	} {
		if got := UnderPrefix(p, pre); got != want {
			t.Errorf("UnderPrefix(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestCheck_RefusesWhatThePolicyDoesNotAllow(t *testing.T) {
	pol := Default()
	user := &Caller{UID: 1000, GID: 100, Groups: []uint32{100, 200}, Name: "alice"}
	admin := &Caller{UID: 900, GID: 900, Name: "lsfadmin"}
	pol.Callers.Trusted = []string{"lsfadmin"}
	oomUp, oomDown := 500, -1
	for _, tc := range []struct {
		name   string
		req    spec.Request
		caller *Caller
		want   string
	}{
		{"a policy capability", spec.Request{CapAdd: []string{"sys_nice"}}, user, ""},
		{"an extra capability", spec.Request{CapAdd: []string{"SYS_ADMIN"}}, user, "[job] capabilities"},
		{"ALL capabilities", spec.Request{CapAdd: []string{"ALL"}}, user, "[job] capabilities"},
		{"a device outside the list", spec.Request{Devices: []spec.Device{{HostPath: "/dev/mem"}}}, user, "[job] devices"},
		{"a listed device", spec.Request{Devices: []spec.Device{{HostPath: "/dev/infiniband/uverbs0"}}}, user, ""},
		{"seccomp off", spec.Request{SeccompProfile: "unconfined"}, user, "trust model"},
		{"cgroup parent", spec.Request{CgroupParent: "/x"}, user, "[callers] trusted"},
		{"raising the OOM score", spec.Request{OOMScoreAdj: &oomUp}, user, ""},
		{"lowering the OOM score", spec.Request{OOMScoreAdj: &oomDown}, user, "only privilege lowers an OOM score"},
		{"trusted callers may", spec.Request{CapAdd: []string{"SYS_ADMIN"}, CgroupParent: "/x", OOMScoreAdj: &oomDown}, admin, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Image = "busybox"
			before := fmt.Sprintf("%+v", req)
			err := pol.Check(&req, tc.caller)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want refusal by %q, got %v", tc.want, err)
			case fmt.Sprintf("%+v", req) != before:
				t.Fatalf("Check changed the request: %s, was %s", fmt.Sprintf("%+v", req), before)
			}
		})
	}
}

func TestApply_SetsTheJobRulesForJobsAndUntrustedCallers(t *testing.T) {
	pol := Default()
	pol.Callers.Trusted = []string{"lsfadmin"}
	user := &Caller{UID: 1000, GID: 100, Name: "alice"}
	admin := &Caller{UID: 900, GID: 900, Name: "lsfadmin"}
	for _, tc := range []struct {
		name    string
		caller  *Caller
		siteJob bool
		applied bool
	}{
		{"a caller who is not trusted gets the [job] rules", user, false, true},
		{"a trusted caller's dockless run keeps docker's defaults", admin, false, false},
		{"root's dockless run keeps docker's defaults", &Caller{}, false, false},
		{"the site's job container gets them whoever asks", admin, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := spec.Request{SiteJob: tc.siteJob}
			if err := pol.Apply(&req, tc.caller); err != nil {
				t.Fatal(err)
			}
			applied := len(req.CapBase) == 5 && req.NoNewPrivileges && req.SELinuxLabel == "user_u:user_r:user_t:s0"
			unchanged := req.CapBase == nil && !req.NoNewPrivileges && req.SELinuxLabel == ""
			if tc.applied && !applied || !tc.applied && !unchanged {
				t.Fatalf("got %+v", req)
			}
		})
	}
}

func TestVolumeRules_BindCallersWhoAreNotTrusted(t *testing.T) {
	pol := Default()
	pol.Callers.Trusted = []string{"lsfadmin"}
	if pre, dirs := pol.VolumeRules(&Caller{UID: 1000, Name: "alice"}); len(pre) == 0 || !dirs {
		t.Errorf("alice: prefixes %v, directories only %v", pre, dirs)
	}
	for _, c := range []*Caller{{UID: 900, Name: "lsfadmin"}, {UID: 0, Name: "root"}} {
		if pre, dirs := pol.VolumeRules(c); pre != nil || dirs {
			t.Errorf("%s: prefixes %v, directories only %v", c.Name, pre, dirs)
		}
	}
}

func TestCheckUser_ContainersRunAsTheirCaller(t *testing.T) {
	pol := Default()
	user := &Caller{UID: 1000, GID: 100, Groups: []uint32{100, 200}, Name: "alice"}
	for _, tc := range []struct {
		name string
		u    specs.User
		want string
	}{
		{"the caller", specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{200}}, ""},
		{"root", specs.User{UID: 0}, "[job] allow_root"},
		{"another uid", specs.User{UID: 1001, GID: 100}, "run as their caller"},
		{"another primary group", specs.User{UID: 1000, GID: 0}, "your own groups"},
		{"another supplementary group", specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{10}}, "your own groups"},
	} {
		err := pol.CheckUser(tc.u, user)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want %q, got %v", tc.name, tc.want, err)
		}
	}
	pol.Registry.Allowed = []string{"registry.example.org"}
	if err := pol.CheckImage("busybox"); err == nil || !strings.Contains(err.Error(), "[registry] allowed") {
		t.Errorf("registry allow-list: %v", err)
	}
	if err := pol.CheckImage("registry.example.org/lab/tool:1"); err != nil {
		t.Errorf("allowed registry: %v", err)
	}
}

// TestTemplate_IsTheDefaults keeps docs/dockless.toml true: it parses and
// says exactly what the built-in defaults are.
func TestTemplate_IsTheDefaults(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the policy file must be root-owned")
	}
	body, err := os.ReadFile("../docs/dockless.toml")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "dockless.toml")
	if err := os.WriteFile(p, body, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	got.Path = ""
	want := Default()
	want.Registry.Allowed = []string{}
	want.Callers.Trusted = []string{}
	want.Build.AllowedRegistries = []string{}
	want.Build.AllowedContextHosts = []string{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("docs/dockless.toml differs from the defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestRegistryProxy_OnlyProxyURLs(t *testing.T) {
	for _, tc := range []struct {
		reg  Registry
		ok   bool
		none bool
	}{
		{reg: Registry{}, ok: true, none: true},
		{reg: Registry{HTTPSProxy: "http://proxy.example:3128", NoProxy: ".example"}, ok: true},
		{reg: Registry{HTTPProxy: "socks5://127.0.0.1:1080"}, ok: true},
		{reg: Registry{NoProxy: "localhost"}, ok: true},
		{reg: Registry{HTTPSProxy: "proxy.example:3128"}},
		{reg: Registry{HTTPSProxy: "ftp://proxy.example"}},
		{reg: Registry{HTTPProxy: "http://"}},
	} {
		err := tc.reg.checkProxies()
		if (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok %v", tc.reg, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "[registry]") {
			t.Errorf("%+v: %v does not name the key", tc.reg, err)
		}
		if tc.ok && (tc.reg.Proxy() == nil) != tc.none {
			t.Errorf("%+v: Proxy() = %v", tc.reg, tc.reg.Proxy())
		}
	}
}

func TestCurrentCaller_EnvironmentAsExecd(t *testing.T) {
	c, err := CurrentCaller()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if got, ok := c.LookupEnv(k); !ok || got != v {
			t.Errorf("%s: %q %v, want %q", k, got, ok, v)
		}
	}
}

// TestLoad_RefusesPullBoundsThatDoNotParse: [store] max_image_size and
// min_free_space are sizes ("" for none), [registry] stall_timeout a
// positive duration; Load refuses anything else, naming the key.
func TestLoad_RefusesPullBoundsThatDoNotParse(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the policy file must be root-owned")
	}
	p := filepath.Join(t.TempDir(), "p.toml")
	for _, c := range []struct {
		toml string
		want PullLimits
		err  string
	}{
		{"", PullLimits{MaxImageSize: 32 << 30, MaxImageFiles: 1000000, MinFreeSpace: 1 << 30, StallTimeout: time.Minute}, ""},
		{"[store]\nmax_image_size = \"\"\nmax_image_files = 0\nmin_free_space = \"\"\n[registry]\nstall_timeout = \"2s\"\n", PullLimits{StallTimeout: 2 * time.Second}, ""},
		{"[store]\nmax_image_files = -1\n", PullLimits{}, "[store] max_image_files"},
		{"[store]\nmax_image_size = \"lots\"\n", PullLimits{}, "[store] max_image_size"},
		{"[store]\nmin_free_space = \"-1\"\n", PullLimits{}, "[store] min_free_space"},
		{"[registry]\nstall_timeout = \"0s\"\n", PullLimits{}, "[registry] stall_timeout"},
	} {
		if err := os.WriteFile(p, []byte(c.toml), 0o644); err != nil {
			t.Fatal(err)
		}
		pol, err := Load(p)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: got %v, want an error naming %s", c.toml, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", c.toml, err)
		}
		if got, _ := pol.PullLimits(); got != c.want {
			t.Errorf("%q: %+v, want %+v", c.toml, got, c.want)
		}
	}
}

// TestLoad_GPUKeys: [gpu] paths are absolute and lsf_id_kind is one of
// its three values; Load refuses anything else, naming the key.
func TestLoad_GPUKeys(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the policy file must be root-owned")
	}
	p := filepath.Join(t.TempDir(), "p.toml")
	for _, c := range []struct{ toml, err string }{
		{"[gpu]\ncdi_spec_dirs = [\"/site/cdi\"]\nallowed_hooks = []\nlsf_id_kind = \"minor\"\n", ""},
		{"[gpu]\ncdi_spec_dirs = [\"cdi\"]\n", "[gpu] cdi_spec_dirs"},
		{"[gpu]\nallowed_hooks = [\"nvidia-cdi-hook\"]\n", "[gpu] allowed_hooks"},
		{"[gpu]\nlsf_id_kind = \"uuid\"\n", "[gpu] lsf_id_kind"},
	} {
		if err := os.WriteFile(p, []byte(c.toml), 0o644); err != nil {
			t.Fatal(err)
		}
		pol, err := Load(p)
		if c.err == "" {
			if err != nil || pol.GPU.LSFIDKind != "minor" || pol.GPU.CDISpecDirs[0] != "/site/cdi" {
				t.Errorf("%q: %+v %v", c.toml, pol, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: got %v, want an error naming %s", c.toml, err, c.err)
		}
	}
}

// TestLoad_RevalidateSeconds: [registry] revalidate_seconds is 60 unless
// set, 0 turns revalidation off, and a negative number is refused, naming
// the key.
func TestLoad_RevalidateSeconds(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the policy file must be root-owned")
	}
	p := filepath.Join(t.TempDir(), "p.toml")
	for _, c := range []struct {
		toml string
		want int
		err  string
	}{
		{"", 60, ""},
		{"[registry]\nrevalidate_seconds = 0\n", 0, ""},
		{"[registry]\nrevalidate_seconds = 300\n", 300, ""},
		{"[registry]\nrevalidate_seconds = -1\n", 0, "[registry] revalidate_seconds"},
	} {
		if err := os.WriteFile(p, []byte(c.toml), 0o644); err != nil {
			t.Fatal(err)
		}
		pol, err := Load(p)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: got %v, want an error naming %s", c.toml, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.toml, err)
		case c.err == "" && pol.Registry.RevalidateSeconds != c.want:
			t.Errorf("%q: %d, want %d", c.toml, pol.Registry.RevalidateSeconds, c.want)
		}
	}
}

// TestCheckSharedCache: the shared cache is an absolute path to root's
// directory that no other user may write; one not there yet is created
// later.
func TestCheckSharedCache(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, mode os.FileMode, uid int) string {
		p := filepath.Join(dir, name)
		if err := os.Mkdir(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, 0); err != nil {
			t.Skipf("needs root: %v", err)
		}
		return p
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"off", "", ""},
		{"root's 0711", mk("good", 0o711, 0), ""},
		{"root's 0700", mk("private", 0o700, 0), ""},
		{"not there yet", filepath.Join(dir, "later"), ""},
		{"relative", "cache", "absolute path"},
		{"world-readable (made 0711 when used)", mk("readable", 0o755, 0), ""},
		{"group-writable", mk("writable", 0o771, 0), "must be 0711"},
		{"world-writable", mk("open", 0o1777, 0), "must be 0711"},
		{"another owner", mk("theirs", 0o711, 1000), "must be owned by root"},
		{"a file", file, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSharedCache(tc.dir)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "[store] shared_cache") {
				t.Fatalf("got %v, want a refusal naming [store] shared_cache and %q", err, tc.want)
			}
		})
	}
}
