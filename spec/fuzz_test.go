package spec

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// FuzzBuild_ImageConfig: an image config is untrusted input (it comes from
// any registry). Whatever it says, Build either refuses it with an error or
// returns a spec whose process has a command, an absolute cwd and only
// KEY=VALUE environment entries; it never panics.
func FuzzBuild_ImageConfig(f *testing.F) {
	for _, s := range []string{
		`{"config":{"Entrypoint":["/bin/sh"],"Cmd":["-c","true"],"Env":["A=1"],"WorkingDir":"/w","User":"1000"}}`,
		`{"config":{"Env":["NOEQUALS"],"WorkingDir":"relative"}}`,
		`{"config":{"Cmd":[]}}`, `{}`, `{"config":{"Env":["=x"]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var img ocispec.Image
		if json.Unmarshal(raw, &img) != nil {
			return
		}
		s, err := Build(&Request{Network: "host", SeccompProfile: "unconfined"}, img.Config, Host{Rootfs: "/rootfs"})
		if err != nil {
			return
		}
		if len(s.Process.Args) == 0 || s.Process.Cwd == "" || s.Process.Cwd[0] != '/' {
			t.Fatalf("bad process from %s: %+v", raw, s.Process)
		}
		for _, e := range s.Process.Env {
			if i := strings.IndexByte(e, '='); i <= 0 {
				t.Fatalf("bad env entry %q from %s", e, raw)
			}
		}
	})
}

// FuzzDockerValues: the parsers of docker values from users (flags,
// LSF_DOCKER_* variables) either refuse with an error or return
// well-formed values; none panics.
func FuzzDockerValues(f *testing.F) {
	for _, s := range []string{"/a:/b:ro", "type=bind,source=/a,target=/b,readonly", "db:10.0.0.1", "h6:[::1]",
		"memlock=-1", "nofile=1024:2048", "/s:/d:z", ":::", "=,=", "20G", "-1", "/x/../y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if b, err := ParseVolume(in, "/cwd"); err == nil && (!strings.HasPrefix(b.Source, "/") || !strings.HasPrefix(b.Destination, "/") || b.Destination == "/" || !b.User) {
			t.Fatalf("-v %q: %+v", in, b)
		}
		if b, tm, err := ParseMount(in, "/cwd"); err == nil && tm == nil && (!strings.HasPrefix(b.Source, "/") || !strings.HasPrefix(b.Destination, "/") || !b.User) {
			t.Fatalf("--mount %q: %+v", in, b)
		} else if err == nil && tm != nil && (!strings.HasPrefix(tm.Destination, "/") || tm.Destination == "/") {
			t.Fatalf("--mount %q: %+v", in, tm)
		}
		if tm, err := ParseTmpfs(in); err == nil && (!strings.HasPrefix(tm.Destination, "/") || tm.Destination == "/" || slices.ContainsFunc(tm.Options, func(o string) bool { return strings.ContainsAny(o, ",\n") })) {
			t.Fatalf("--tmpfs %q: %+v", in, tm)
		}
		if n, err := ParseCPUs(in); err == nil && n < 0 {
			t.Fatalf("--cpus %q: %d", in, n)
		}
		if _, err := ParseCpuset(in); err == nil && strings.Trim(in, "0123456789,-") != "" {
			t.Fatalf("--cpuset-cpus %q accepted", in)
		}
		for _, p := range []func(string) (string, error){ParseDNSSearch, ParseDNSOption} {
			if v, err := p(in); err == nil && strings.ContainsAny(v, " \t\n") {
				t.Fatalf("dns value %q accepted", in)
			}
		}
		if h, err := ParseAddHost(in); err == nil && (h.Host == "" || strings.ContainsAny(h.Host, " \t") || h.IP == "") {
			t.Fatalf("--add-host %q: %+v", in, h)
		}
		if n, err := ParseShmSize(in); err == nil && n < 0 {
			t.Fatalf("--shm-size %q: %d", in, n)
		}
		if n, err := ParseMemorySwap(in); err == nil && n < -1 {
			t.Fatalf("--memory-swap %q: %d", in, n)
		}
		if w, err := ParseWorkdir(in); err == nil && !strings.HasPrefix(w, "/") {
			t.Fatalf("-w %q: %q", in, w)
		}
		if r, err := ParseUlimit(in); err == nil && !strings.HasPrefix(r.Type, "RLIMIT_") {
			t.Fatalf("--ulimit %q: %+v", in, r)
		}
		if l, err := SELinuxLabel(strings.Split(in, ",")); err == nil && strings.Count(l, ":") < 3 {
			t.Fatalf("label %q: %q", in, l)
		}
	})
}
