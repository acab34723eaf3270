package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoad_BuildTable: [build]'s bounds parse, and what cannot be used
// is refused at load, naming the key.
func TestLoad_BuildTable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the policy file must be root-owned")
	}
	p := filepath.Join(t.TempDir(), "p.toml")
	for _, c := range []struct{ toml, err string }{
		{"", ""},
		{"[build]\nmax_context_size = \"1G\"\nlock_timeout = \"30s\"\n", ""},
		{"[build]\nmax_context_size = \"lots\"\n", "[build] max_context_size"},
		{"[build]\nlock_timeout = \"0s\"\n", "[build] lock_timeout"},
		{"[build]\nruntime = \"runc\"\n", "[build] runtime"},
		{"[build]\nsubuid_file = \"subuid\"\n", "[build] subuid_file"},
	} {
		if err := os.WriteFile(p, []byte(c.toml), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: got %v, want an error naming %s", c.toml, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%q: %v", c.toml, err)
		}
	}
}

// TestCheckBuild_RefusalsNameTheRule: builds off, a RUN network not
// allowed, a push to a registry not allowed ([build] allowed_registries,
// else [registry] allowed).
func TestCheckBuild_RefusalsNameTheRule(t *testing.T) {
	p := Default()
	if err := p.CheckBuild("host"); err != nil {
		t.Errorf("the defaults allow a build: %v", err)
	}
	p.Build.Network = []string{"none"}
	var r *Refusal
	if err := p.CheckBuild("host"); !errors.As(err, &r) || r.Rule != "[build] network" {
		t.Errorf("network host not allowed: %v", err)
	}
	p.Build.Enabled = false
	if err := p.CheckBuild("none"); !errors.As(err, &r) || r.Rule != "[build] enabled" {
		t.Errorf("builds off: %v", err)
	}
	p.Registry.Allowed = []string{"reg.example"}
	if err := p.CheckPush("other.example/a/b:1"); !errors.As(err, &r) || r.Rule != "[registry] allowed" {
		t.Errorf("a push outside [registry] allowed: %v", err)
	}
	if err := p.CheckPush("reg.example/a/b:1"); err != nil {
		t.Errorf("a push to an allowed registry: %v", err)
	}
	p.Build.AllowedRegistries = []string{"push.example"}
	if err := p.CheckPush("reg.example/a/b:1"); !errors.As(err, &r) || r.Rule != "[build] allowed_registries" {
		t.Errorf("[build] allowed_registries decides pushes: %v", err)
	}
}

// TestCheckContextURL_ANetworkFetchTheAdminAllows: a context URL needs
// [build] network to list host, and its host (with or without the port)
// among [build] allowed_context_hosts where that is set.
func TestCheckContextURL_ANetworkFetchTheAdminAllows(t *testing.T) {
	for _, c := range []struct {
		name, network, hosts, host, rule string
	}{
		{"the defaults allow any host", "host none", "", "git.example", ""},
		{"an offline node refuses", "none", "", "git.example", "[build] network"},
		{"a listed host", "host", "git.example", "git.example", ""},
		{"a listed host, its port free", "host", "127.0.0.1", "127.0.0.1:8080", ""},
		{"a listed host and port", "host", "127.0.0.1:8080", "127.0.0.1:8080", ""},
		{"another port of a listed host and port", "host", "127.0.0.1:8080", "127.0.0.1:9090", "[build] allowed_context_hosts"},
		{"an unlisted host", "host", "git.example", "evil.example", "[build] allowed_context_hosts"},
	} {
		p := Default()
		p.Build.Network = strings.Fields(c.network)
		p.Build.AllowedContextHosts = strings.Fields(c.hosts)
		err := p.CheckContextURL("https://"+c.host+"/r.git", c.host)
		var r *Refusal
		if c.rule == "" && err != nil || c.rule != "" && (!errors.As(err, &r) || r.Rule != c.rule) {
			t.Errorf("%s: %v, want refusal %q", c.name, err, c.rule)
		}
	}
}
