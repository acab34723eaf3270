package main

import (
	"strings"
	"testing"

	"github.com/dockless/dockless/spec"
)

// FuzzFlagValues: the parsers of user-supplied flag and variable values
// either refuse with an error or return well-formed values; none panics.
func FuzzFlagValues(f *testing.F) {
	for _, s := range []string{"/a:/b:ro", "type=bind,source=/a,target=/b,readonly", "db:10.0.0.1", "h6:[::1]",
		"8001:80/tcp", "8000-8010:80-90", "memlock=-1", "nofile=1024:2048", "/s:/d:z", ":::", "=,=", "all", `"device=0,1"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if b, err := binds([]string{in}, nil); err == nil {
			for _, m := range b {
				if !strings.HasPrefix(m.Source, "/") || !strings.HasPrefix(m.Destination, "/") {
					t.Fatalf("-v %q gave a relative path: %+v", in, m)
				}
			}
		}
		if b, err := binds(nil, []string{in}); err == nil && (b[0].Source == "" || b[0].Destination == "") {
			t.Fatalf("--mount %q gave an empty path", in)
		}
		if b, err := parseVolume(in); err == nil && (!strings.HasPrefix(b.Source, "/") || !strings.HasPrefix(b.Destination, "/")) {
			t.Fatalf("LSF_DOCKER_VOLUMES %q gave a relative path", in)
		}
		if h, err := addHosts([]string{in}); err == nil && (h[0].Host == "" || strings.ContainsAny(h[0].Host, " \t")) {
			t.Fatalf("--add-host %q: %+v", in, h)
		}
		_ = checkPorts(in, "none")
		if r, err := spec.ParseUlimit(in); err == nil && !strings.HasPrefix(r.Type, "RLIMIT_") {
			t.Fatalf("--ulimit %q: %+v", in, r)
		}
		if l, err := spec.SELinuxLabel(strings.Split(in, ",")); err == nil && strings.Count(l, ":") < 3 {
			t.Fatalf("label %q: %q", in, l)
		}
	})
}
