package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// gate is an HTTP server on 127.0.0.1 whose answer waits for release: a
// build's RUN step that fetches it is in progress until then.
type gate struct {
	*httptest.Server
	arrived, released chan struct{}
	arrive, release   sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{arrived: make(chan struct{}), released: make(chan struct{})}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		g.arrive.Do(func() { close(g.arrived) })
		<-g.released
		_, _ = w.Write([]byte("open\n"))
	}))
	t.Cleanup(func() { g.open(); g.Close() })
	return g
}

func (g *gate) open() { g.release.Do(func() { close(g.released) }) }

// watched is a command's output that tells when it holds a string.
type watched struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func watch(want string) *watched { return &watched{want: want, seen: make(chan struct{})} }

func (w *watched) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *watched) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startBuild starts alice's build in ctx, its stderr watched for want;
// done receives its end.
func startBuild(t *testing.T, ctx, want string, args ...string) (out *watched, done chan error) {
	t.Helper()
	cmd := exec.Command(suidBinary, append([]string{"build"}, args...)...)
	cmd.Dir = ctx
	cmd.SysProcAttr = asUserAttr(alice)
	out = watch(want)
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done, ended := make(chan error, 1), make(chan struct{})
	go func() { done <- cmd.Wait(); close(ended) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-ended })
	return out, done
}

// await waits for ch, or fails naming what did not happen (a bound on a
// broken build, not a timing).
func await[T any](t *testing.T, ch <-chan T, what string, out *watched) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(3 * time.Minute):
		t.Fatalf("%s did not happen: %s", what, out)
	}
	var zero T
	return zero
}

// TestBuild_TwoConcurrentBuildsOfOneUser: while alice's build is in a
// RUN step (held by a gate on 127.0.0.1), her second build says that it
// waits for the first and, once the first ends, builds: both succeed.
// With [build] lock_timeout of 1s the second gives up with the message
// that names the rule, exit 125, and the first still succeeds.
func TestBuild_TwoConcurrentBuildsOfOneUser(t *testing.T) {
	e := buildEnv(t, "")
	ctx := twoStage(t, alice)
	gated := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nARG GATE\nRUN wget -q -O /gate \"$GATE\"\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(gated), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(ctx, "Dockerfile.other")
	if err := os.WriteFile(other, []byte("FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"true\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const waiting = "another build of yours is running; waiting for it"
	for _, c := range []struct {
		name, policy string
		secondCode   int
		secondSays   string
	}{
		{"the second waits, both succeed", "", 0, waiting},
		{"the second gives up after [build] lock_timeout", "lock_timeout = \"1s\"\n", 125, "another build of yours holds"},
	} {
		e.writePolicy(buildPolicy(e, c.policy))
		g := newGate(t)
		first, firstDone := startBuild(t, ctx, "", "--progress", "plain", "--no-cache", "--build-arg", "GATE="+g.URL, ".")
		await(t, g.arrived, c.name+": the first build's RUN step", first)
		second, secondDone := startBuild(t, ctx, waiting, "--progress", "plain", "--no-cache", "-f", other, ".")
		await(t, second.seen, c.name+": the second build says it waits", second)
		if c.secondCode != 0 {
			err := await(t, secondDone, c.name+": the second build ends", second)
			if code := waitStatus(err); code != c.secondCode || !strings.Contains(second.String(), c.secondSays) {
				t.Errorf("%s: the second build: exit %d (%v), want %d and %q: %s", c.name, code, err, c.secondCode, c.secondSays, second)
			}
		}
		g.open()
		if err := await(t, firstDone, c.name+": the first build ends", first); err != nil {
			t.Errorf("%s: the first build: %v: %s", c.name, err, first)
		}
		if c.secondCode == 0 {
			if err := await(t, secondDone, c.name+": the second build ends", second); err != nil {
				t.Errorf("%s: the second build after the first: %v: %s", c.name, err, second)
			}
		}
	}
}

// waitStatus is a command's exit status from its Wait error.
func waitStatus(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
