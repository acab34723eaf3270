package hooks

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func writeHook(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func rootDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("hook files must be root's: run as root")
	}
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// oci-hooks(5)'s examples, and dockless's annotations.
func TestMatch_TheManPagesExamplesAndDocklessAnnotations(t *testing.T) {
	dir := rootDir(t)
	writeHook(t, dir, "oci-systemd-hook.json", `{"version":"1.0.0","hook":{"path":"/bin/true","args":["true","oci-systemd-hook"]},
"when":{"commands":[".*/init$",".*/systemd$"]},"stages":["prestart","poststop"]}`, 0o644)
	writeHook(t, dir, "oci-umount.json", `{"version":"1.0.0","hook":{"path":"/bin/true"},
"when":{"always":true},"stages":["prestart"]}`, 0o644)
	writeHook(t, dir, "Mpi.json", `{"version":"1.0.0","hook":{"path":"/bin/true","args":["true","mpi"]},
"when":{"annotations":{"^io\\.dockless\\.lsf\\.parallel$":"^true$"}},"stages":["createRuntime"]}`, 0o644)
	writeHook(t, dir, "notes.txt", `not a hook`, 0o644)
	hs, err := Load([]string{filepath.Join(dir, "missing"), dir})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range hs {
		names = append(names, filepath.Base(h.File))
	}
	if got := strings.Join(names, " "); got != "Mpi.json oci-systemd-hook.json oci-umount.json" {
		t.Fatalf("hooks in lower-cased name order: %s", got)
	}
	for _, tc := range []struct {
		name        string
		args        []string
		annotations map[string]string
		want        []string // hooks per stage: prestart, createRuntime, poststop
	}{
		{"a plain container", []string{"sh"}, nil, []string{"1", "0", "0"}},
		{"systemd", []string{"/usr/lib/systemd/systemd"}, nil, []string{"2", "0", "1"}},
		{"a parallel LSF job", []string{"/sbin/docker-init", "--hold"}, map[string]string{"io.dockless.lsf.parallel": "true", "io.dockless.lsf.job": "1"}, []string{"1", "1", "0"}},
		{"parallel false", []string{"sh"}, map[string]string{"io.dockless.lsf.parallel": "false"}, []string{"1", "0", "0"}},
	} {
		s := &specs.Spec{Process: &specs.Process{Args: tc.args}, Annotations: tc.annotations}
		Apply(s, hs, false)
		got := []string{"0", "0", "0"}
		if s.Hooks != nil {
			got = []string{strconv.Itoa(len(s.Hooks.Prestart)), strconv.Itoa(len(s.Hooks.CreateRuntime)), strconv.Itoa(len(s.Hooks.Poststop))} //nolint:staticcheck // schema 1.0.0's stage
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: hooks per stage %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A later directory's file masks the same-named one of an earlier.
func TestLoad_ALaterDirectoryMasksASameNamedFile(t *testing.T) {
	a, b := rootDir(t), rootDir(t)
	writeHook(t, a, "x.json", `{"version":"1.0.0","hook":{"path":"/bin/true"},"when":{"always":true},"stages":["prestart"]}`, 0o644)
	writeHook(t, b, "x.json", `{"version":"1.0.0","hook":{"path":"/bin/false"},"when":{"always":true},"stages":["poststop"]}`, 0o644)
	hs, err := Load([]string{a, b})
	if err != nil || len(hs) != 1 || hs[0].Hook.Path != "/bin/false" {
		t.Fatalf("%v %v", hs, err)
	}
}

// Hook files and directories that are not root's alone, and malformed
// hooks, are refused, naming the file and the rule.
func TestLoad_UntrustedOrMalformedHooksAreRefused(t *testing.T) {
	good := `{"version":"1.0.0","hook":{"path":"/bin/true"},"when":{"always":true},"stages":["prestart"]}`
	for _, tc := range []struct {
		name, body string
		mode       os.FileMode
		owner      int
		want       string
	}{
		{"group-writable", good, 0o664, 0, "writable by no one else"},
		{"another user's", good, 0o644, 61001, "owned by uid 61001"},
		{"version 0.1.0", strings.Replace(good, "1.0.0", "0.1.0", 1), 0o644, 0, "only 1.0.0"},
		{"no condition", strings.Replace(good, `"always":true`, ``, 1), 0o644, 0, "at least one condition"},
		{"unknown stage", strings.Replace(good, "prestart", "later", 1), 0o644, 0, "stage"},
		{"relative program", strings.Replace(good, "/bin/true", "true", 1), 0o644, 0, "absolute"},
		{"bad pattern", `{"version":"1.0.0","hook":{"path":"/bin/true"},"when":{"commands":["("]},"stages":["prestart"]}`, 0o644, 0, "when.commands"},
	} {
		dir := rootDir(t)
		p := writeHook(t, dir, "h.json", tc.body, tc.mode)
		if err := os.Chown(p, tc.owner, tc.owner); err != nil {
			t.Fatal(err)
		}
		_, err := Load([]string{dir})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: want refused naming %s and %q: %v", tc.name, p, tc.want, err)
		}
	}
	dir := rootDir(t)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Load([]string{dir}); err == nil || !strings.Contains(err.Error(), "hooks directory") {
		t.Errorf("a world-writable hooks directory: %v", err)
	}
}
