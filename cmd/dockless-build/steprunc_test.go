package main

// The tests of dockless-build-runc (../dockless-build-runc/main.c), the
// program BuildKit runs a build's RUN steps with (stepRuntime): built here
// from its source, in front of a stand-in runtime that records its
// arguments. The builds of cmd/dockless's end-to-end tests run it in front
// of runc.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	shimPath  string
	buildErr  error
)

// shim is dockless-build-runc built from main.c as make build builds it.
func shim(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dockless-build-runc-test")
		if err != nil {
			buildErr = err
			return
		}
		shimPath = filepath.Join(dir, "dockless-build-runc")
		out, err := exec.Command(cc, "-static", "-Os", "-Wall", "-Wextra", "-Werror", "-o", shimPath, "../dockless-build-runc/main.c").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err, out}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return shimPath
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string {
	return "cc dockless-build-runc/main.c: " + e.err.Error() + "\n" + string(e.out)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shimPath != "" {
		os.RemoveAll(filepath.Dir(shimPath))
	}
	os.Exit(code)
}

// call runs the shim with args in front of a stand-in runtime, and
// returns the arguments the runtime got (nil: it was not executed) and
// the shim's exit status.
func call(t *testing.T, env map[string]string, args ...string) (got []string, status int, stderr string) {
	t.Helper()
	dir := t.TempDir()
	record := filepath.Join(dir, "args")
	runtime := filepath.Join(dir, "runtime")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '" + record + "'\n"
	if err := os.WriteFile(runtime, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shim(t), args...)
	cmd.Env = []string{"DOCKLESS_BUILD_RUNTIME=" + runtime}
	for k, v := range env {
		if k == "DOCKLESS_BUILD_RUNTIME" {
			cmd.Env[0] = k + "=" + v
			continue
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
		if status < 0 {
			t.Fatalf("the shim was killed: %v", err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(record); err == nil {
		got = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		if len(b) == 0 {
			got = []string{}
		}
	}
	return got, status, errb.String()
}

// builtConfig is a bundle config as BuildKit writes one (Go's encoder: no
// spaces), with docker's architectures for x86_64, and a process whose
// arguments hold what the shim must not take for the profile.
const builtConfig = `{"ociVersion":"1.0.2","process":{"args":["/bin/sh","-c","echo '{\"linux\":{\"seccomp\":{\"architectures\":[\"SCMP_ARCH_X86\"]}}}'"],"env":["architectures=[\"SCMP_ARCH_X32\"]"],"cwd":"/"},"root":{"path":"rootfs"},"annotations":{"architectures":"SCMP_ARCH_X86"},"linux":{"namespaces":[{"type":"pid"}],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"}]}]},"maskedPaths":["/proc/kcore"]}}` + "\n"

func bundle(t *testing.T, config string) (dir string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(config), 0o640); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestShim_LeavesDeadArchitecturesOutOfTheProfile(t *testing.T) {
	both := strings.Replace(builtConfig, `"SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"`, `"SCMP_ARCH_X86_64"`, 1)
	noX32 := strings.Replace(builtConfig, `,"SCMP_ARCH_X32"]`, `]`, 1)
	for _, tc := range []struct {
		name, config, dead, verb, want string
	}{
		{"both dead, run", builtConfig, "SCMP_ARCH_X32,SCMP_ARCH_X86", "run", both},
		{"both dead, create", builtConfig, "SCMP_ARCH_X86,SCMP_ARCH_X32", "create", both},
		{"x32 dead only", builtConfig, "SCMP_ARCH_X32", "run", noX32},
		{"none dead: the config is not rewritten", builtConfig, "", "run", builtConfig},
		{"spaced JSON", `{ "linux" : { "seccomp" : { "architectures" : [ "SCMP_ARCH_X86_64" , "SCMP_ARCH_X86" ] } } }`, "SCMP_ARCH_X86", "run",
			`{ "linux" : { "seccomp" : { "architectures" : ["SCMP_ARCH_X86_64"] } } }`},
		{"a profile that is not for x86_64 is kept", `{"linux":{"seccomp":{"architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}}}`, "SCMP_ARCH_X86,SCMP_ARCH_X32", "run",
			`{"linux":{"seccomp":{"architectures":["SCMP_ARCH_X86","SCMP_ARCH_X32"]}}}`},
		{"no seccomp", `{"linux":{"namespaces":[]}}`, "SCMP_ARCH_X86", "run", `{"linux":{"namespaces":[]}}`},
		{"malformed", `{"linux":{"seccomp":{"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"`, "SCMP_ARCH_X86", "run",
			`{"linux":{"seccomp":{"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"`},
		{"x86_64 is never dropped", `{"linux":{"seccomp":{"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"]}}}`, "SCMP_ARCH_X86_64,SCMP_ARCH_X86", "run",
			`{"linux":{"seccomp":{"architectures":["SCMP_ARCH_X86_64"]}}}`},
		{"a NUL is no JSON", "{\"linux\":{\"a\":\x00,\"seccomp\":{\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"]}}}", "SCMP_ARCH_X86", "run",
			"{\"linux\":{\"a\":\x00,\"seccomp\":{\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\"]}}}"},
		{"a name escaped is not a dead one", `{"linux":{"seccomp":{"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X8\u0036"]}}}`, "SCMP_ARCH_X86", "run",
			`{"linux":{"seccomp":{"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X8\u0036"]}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := bundle(t, tc.config)
			got, status, stderr := call(t, map[string]string{"DOCKLESS_BUILD_DEAD_ARCHS": tc.dead}, tc.verb, "--bundle", dir, "c1")
			if status != 0 || got == nil {
				t.Fatalf("status %d, runtime called: %v; %s", status, got != nil, stderr)
			}
			b, err := os.ReadFile(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("config\n%s\nwant\n%s", b, tc.want)
			}
			if st, err := os.Stat(filepath.Join(dir, "config.json")); err != nil || st.Mode().Perm() != 0o640 {
				t.Errorf("config's mode: %v %v, want 0640", st.Mode(), err)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(dir, ".config-*")); len(leftovers) > 0 {
				t.Errorf("left behind: %v", leftovers)
			}
		})
	}
}

func TestShim_Arguments(t *testing.T) {
	xdg := t.TempDir()
	root := filepath.Join(xdg, "runc")
	if err := os.MkdirAll(filepath.Join(root, "kept"), 0o700); err != nil {
		t.Fatal(err)
	}
	dir := bundle(t, builtConfig)
	log := []string{"--log", "/x/runc-log.json", "--log-format", "json"}
	withXDG := map[string]string{"XDG_RUNTIME_DIR": xdg}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string // nil: the runtime is not executed
	}{
		{"run without --keep, the state root given", withXDG,
			append(log, "run", "--bundle", dir, "--keep", "c1"),
			append([]string{"--root", root}, append(log, "run", "--bundle", dir, "c1")...)},
		{"run --detach keeps --keep", withXDG,
			[]string{"run", "-d", "--bundle", dir, "--keep", "c1"},
			[]string{"--root", root, "run", "-d", "--bundle", dir, "--keep", "c1"}},
		{"a --keep after the ID is the command's", withXDG,
			[]string{"run", "--bundle", dir, "c1", "--keep"},
			[]string{"--root", root, "run", "--bundle", dir, "c1", "--keep"}},
		{"a --root given is kept, and nothing added", withXDG,
			[]string{"--root", "/elsewhere", "run", "-b", dir, "--keep", "c1"},
			[]string{"--root", "/elsewhere", "run", "-b", dir, "c1"}},
		{"no state root known: run keeps --keep", nil,
			[]string{"run", "--bundle", dir, "--keep", "c1"},
			[]string{"run", "--bundle", dir, "--keep", "c1"}},
		{"delete of a container that is gone is answered here", withXDG,
			append(log, "delete", "gone"), nil},
		{"delete of a container that is there goes to the runtime", withXDG,
			append(log, "delete", "kept"),
			append([]string{"--root", root}, append(log, "delete", "kept")...)},
		{"delete --force goes to the runtime", withXDG,
			[]string{"delete", "--force", "gone"},
			[]string{"--root", root, "delete", "--force", "gone"}},
		{"delete of a name that is no ID goes to the runtime", withXDG,
			[]string{"delete", ".."},
			[]string{"--root", root, "delete", ".."}},
		{"delete without a state root goes to the runtime", nil,
			[]string{"delete", "gone"},
			[]string{"delete", "gone"}},
		{"other verbs go through", withXDG,
			[]string{"kill", "c1", "KILL"},
			[]string{"--root", root, "kill", "c1", "KILL"}},
		{"a value flag before --bundle (runc's --pidfd-socket)", withXDG,
			[]string{"run", "--pidfd-socket", "/s", "--bundle", dir, "--keep", "c1"},
			[]string{"--root", root, "run", "--pidfd-socket", "/s", "--bundle", dir, "c1"}},
		{"an empty --root is the runtime's choice: --keep and delete left alone", withXDG,
			[]string{"--root=", "run", "--bundle", dir, "--keep", "c1"},
			[]string{"--root=", "run", "--bundle", dir, "--keep", "c1"}},
		{"an empty --root: delete goes to the runtime", withXDG,
			[]string{"--root=", "delete", "gone"},
			[]string{"--root=", "delete", "gone"}},
		{"no verb: nothing added", withXDG,
			[]string{"--version"},
			[]string{"--version"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, status, stderr := call(t, tc.env, tc.args...)
			if status != 0 {
				t.Fatalf("status %d: %s", status, stderr)
			}
			if tc.want == nil {
				if got != nil {
					t.Fatalf("the runtime ran with %q", got)
				}
				return
			}
			if strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") {
				t.Errorf("runtime's arguments\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestShim_RefusesWithoutARuntime(t *testing.T) {
	for _, runtime := range []string{"", "runc"} {
		got, status, stderr := call(t, map[string]string{"DOCKLESS_BUILD_RUNTIME": runtime}, "run", "c1")
		if status != 127 || got != nil || !strings.Contains(stderr, "DOCKLESS_BUILD_RUNTIME") {
			t.Errorf("runtime %q: status %d, ran %v, stderr %q; want 127 naming the variable", runtime, status, got != nil, stderr)
		}
	}
}

// FuzzShim_ProfileEdit: whatever the config, the shim neither crashes nor
// loses the runtime's call, and a config it rewrites is the same config
// with dead architectures, and only those, left out of the profile.
func FuzzShim_ProfileEdit(f *testing.F) {
	f.Add(builtConfig)
	f.Add(`{"linux":{"seccomp":{"architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"]}}}`)
	f.Add(`{"linux":{"seccomp":{"architectures":[]}}}`)
	f.Add(`{"linux":{"seccomp":{"architectures":["SCMP_ARCH_X86","SCMP_ARCH_X86_64","SCMP_ARCH_X32","SCMP_ARCH_X86"]}},"linux":{}}`)
	f.Add(`{"linux":{"seccomp":{"architectures":["SCMP_ARCH_X86_64",1]}}}`)
	f.Add(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`)
	f.Fuzz(func(t *testing.T, config string) {
		if len(config) == 0 {
			return
		}
		dir := bundle(t, config)
		got, status, stderr := call(t, map[string]string{"DOCKLESS_BUILD_DEAD_ARCHS": "SCMP_ARCH_X86,SCMP_ARCH_X32"}, "run", "--bundle", dir, "c1")
		if status != 0 || got == nil {
			t.Fatalf("status %d, runtime called %v: %s", status, got != nil, stderr)
		}
		b, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		out := string(b)
		if out == config {
			return
		}
		if json.Valid([]byte(config)) && !json.Valid(b) {
			t.Fatalf("a valid config became invalid:\n%s\n%s", config, out)
		}
		// The two differ inside an architectures array only, which lost
		// dead names (and the commas and spaces between) and nothing else.
		p := 0
		for p < len(config) && p < len(out) && config[p] == out[p] {
			p++
		}
		open := strings.LastIndex(config[:p], "[")
		if open < 0 || !strings.HasSuffix(strings.TrimRight(config[:open], " \t\r\n:"), `"architectures"`) {
			t.Fatalf("rewrote more than an architectures array:\n%s\n%s", config, out)
		}
		inArchs, inEnd := array(t, config[open:])
		outArchs, outEnd := array(t, out[open:])
		if config[open+inEnd:] != out[open+outEnd:] {
			t.Fatalf("rewrote more than the architectures array:\n%s\n%s", config, out)
		}
		var want []string
		for _, a := range inArchs {
			if a != `"SCMP_ARCH_X86"` && a != `"SCMP_ARCH_X32"` {
				want = append(want, a)
			}
		}
		if strings.Join(want, ",") != strings.Join(outArchs, ",") || !slices.Contains(inArchs, `"SCMP_ARCH_X86_64"`) {
			t.Fatalf("the array lost more than dead names, or was not for x86_64:\n%s\n%s", config, out)
		}
	})
}

// array is the JSON array at the start of s, as its elements' texts, and
// where it ends.
func array(t *testing.T, s string) (elems []string, end int) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	var raw []json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("no array at %q: %v", s, err)
	}
	for _, r := range raw {
		elems = append(elems, string(r))
	}
	return elems, int(dec.InputOffset())
}
