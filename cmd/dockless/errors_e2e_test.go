package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every refusal is one clear line on stderr, exit 125, nothing left behind
// (assertClean runs after each test).
func TestRun_BadInputIsOneLineAnd125(t *testing.T) {
	e := newEnv(t)
	e.mustRun("pull", "-q", busybox)
	dead := closedPort(t)
	envDir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown image", []string{"run", "--rm", reg.Ref("test/nope:1"), "true"}, "not found"},
		{"unreachable registry", []string{"run", "--rm", dead + "/x/y:1", "true"}, "connection refused"},
		{"bad reference", []string{"run", "--rm", "UPPER/Case", "true"}, "invalid reference format"},
		{"bad memory value", []string{"run", "--rm", "-m", "lots", busybox, "true"}, "invalid --memory"},
		{"memory too small", []string{"run", "--rm", "-m", "1m", busybox, "true"}, "minimum memory limit"},
		{"swap below memory", []string{"run", "--rm", "-m", "64m", "--memory-swap", "32m", busybox, "true"}, "memoryswap limit should be larger"},
		{"missing env file", []string{"run", "--rm", "--env-file", filepath.Join(envDir, "missing"), busybox, "true"}, "--env-file"},
		{"missing volume source", []string{"run", "--rm", "-v", "/no/such/dir:/data", busybox, "true"}, "volume /no/such/dir: does not exist"},
		{"named volume", []string{"run", "--rm", "-v", "data:/data", busybox, "true"}, "named volumes are not supported"},
		{"unknown flag", []string{"run", "--rm", "--frobnicate", busybox, "true"}, "flag provided but not defined"},
		{"unknown capability", []string{"run", "--rm", "--cap-add", "SYS_WIZARD", busybox, "true"}, "unknown capability"},
		{"a bad port refused", []string{"run", "--rm", "-p", "http", busybox, "true"}, "invalid -p"},
		{"detach refused", []string{"run", "-d", busybox, "true"}, "foreground"},
		{"bridge network refused", []string{"run", "--rm", "--network", "bridge", busybox, "true"}, "not supported"},
		{"missing device", []string{"run", "--rm", "--device", "/dev/nope", busybox, "true"}, "/dev/nope"},
		{"no GPU on this node", []string{"run", "--rm", "--gpus", "all", busybox, "true"}, "no NVIDIA GPU"},
		{"pull never and not cached", []string{"run", "--rm", "--pull", "never", reg.Ref("test/nope:2"), "true"}, "--pull=never"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.run(tc.args...)
			if r.code != 125 {
				t.Fatalf("want exit 125, got %s", r)
			}
			msg := strings.TrimSpace(r.stderr)
			if last := msg[strings.LastIndex(msg, "\n")+1:]; !strings.HasPrefix(last, "dockless: ") || !strings.Contains(last, tc.want) {
				t.Fatalf("want one line naming %q, got %q", tc.want, msg)
			}
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRun_HelpAndVersionAreLongFlagsOnly(t *testing.T) {
	e := newEnv(t)
	if r := e.run("--help"); r.code != 0 || !strings.Contains(r.stdout, "run") {
		t.Errorf("--help: %s", r)
	}
	if r := e.run("--version"); r.code != 0 || !strings.Contains(r.stdout, "dockless version") {
		t.Errorf("--version: %s", r)
	}
	_ = os.Getenv
}
