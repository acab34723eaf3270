package spec

import (
	"encoding/json"
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
		s, err := Build(&Request{Rootfs: "/rootfs", Network: "host", SeccompProfile: "unconfined"}, img.Config)
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
