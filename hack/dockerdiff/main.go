// Command dockerdiff is the differential check of dockless against docker.
// It starts a real dockerd (Debian's docker.io: --iptables=false
// --bridge=none, on a private socket and root) and then
//
//   - runs the seed's job line through both and prints every field of the
//     config.json each hands its runtime that differs (seed.go);
//   - runs a table of `docker run` scenarios through both, the same image
//     digests pulled from one registry, and prints, as a markdown table,
//     whether each behaves the same: exit status and standard output
//     (scenarios.go). A difference docs/COMPATIBILITY.md explains is
//     marked with its reason; any other is a finding.
//
// Usage (as root, dockerd installed; make differential):
//
//	go run ./hack/dockerdiff -dockless bin/dockless [-docker /usr/bin/docker]
//
// It exits 1 when a scenario differs without a documented reason.
package main

import (
	"flag"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dockless/dockless/hack/testimage"
)

// engines are the two sides: dockerd through its client, and dockless.
type engines struct {
	work     string
	docker   string
	sock     string
	dockless string
	reg      *testimage.Registry
}

func main() {
	dockless := flag.String("dockless", "bin/dockless", "dockless binary")
	dockerd := flag.String("dockerd", "dockerd", "dockerd binary")
	docker := flag.String("docker", "/usr/bin/docker", "docker client")
	keep := flag.String("keep", "", "also write both config.json files of the seed line into this directory")
	seed := flag.Bool("seed", true, "compare the seed job's config.json")
	scenarios := flag.Bool("scenarios", true, "run the scenario table")
	flag.Parse()
	work, err := os.MkdirTemp("", "dockerdiff-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(work)
	bin, _ := filepath.Abs(*dockless)
	e := &engines{work: work, docker: *docker, sock: filepath.Join(work, "docker.sock"), dockless: bin}
	cleanups = append(cleanups, func() { os.RemoveAll(work) })
	stop := e.startDockerd(*dockerd)
	cleanups = append(cleanups, stop)
	defer stop()
	if e.reg, err = testimage.StartRegistry(); err != nil {
		fatalf("%v", err)
	}
	defer e.reg.Close()
	cleanups = append(cleanups, func() { e.reg.Close() })
	if *seed {
		e.seed(*keep)
	}
	undocumented := 0
	if *scenarios {
		undocumented = e.scenarios()
	}
	if undocumented > 0 {
		stop()
		e.reg.Close()
		os.RemoveAll(work)
		os.Exit(1)
	}
}

// startDockerd starts dockerd on a private socket and root, with no
// networking of its own, and waits until it answers.
func (e *engines) startDockerd(dockerd string) (stop func()) {
	root := filepath.Join(e.work, "dockerd")
	d := exec.Command(dockerd, "--iptables=false", "--bridge=none", "--data-root", filepath.Join(root, "data"),
		"--exec-root", filepath.Join(root, "exec"), "-H", "unix://"+e.sock, "--pidfile", filepath.Join(root, "pid"))
	must(os.MkdirAll(root, 0o700), "dockerd's directory")
	dlog, _ := os.Create(filepath.Join(root, "dockerd.log"))
	d.Stdout, d.Stderr = dlog, dlog
	if err := d.Start(); err != nil {
		fatalf("starting dockerd: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		// SIGTERM lets dockerd unmount what it mounted under its roots.
		done := make(chan struct{})
		go func() { _ = d.Wait(); close(done) }()
		_ = d.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = d.Process.Kill()
			<-done
		}
		unmountUnder(root)
	}
	for i := 0; e.dockerCmd("info").Run() != nil; i++ {
		if i > 100 {
			stop()
			fatalf("dockerd did not come up")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return stop
}

// unmountUnder detaches whatever is still mounted below dir (a dockerd
// that did not stop cleanly leaves its data root's bind and a netns).
func unmountUnder(dir string) {
	b, _ := os.ReadFile("/proc/self/mountinfo")
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	for i := len(points) - 1; i >= 0; i-- {
		_ = syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
}

// dockerCmd is a docker client command talking to the private dockerd.
func (e *engines) dockerCmd(args ...string) *exec.Cmd {
	c := exec.Command(e.docker, args...)
	c.Env = append(os.Environ(), "DOCKER_HOST=unix://"+e.sock)
	return c
}

// docklessCmd is a dockless command with a store and state of its own.
func (e *engines) docklessCmd(args ...string) *exec.Cmd {
	return exec.Command(e.dockless, append([]string{"--root", filepath.Join(e.work, "dl-store"), "--state", filepath.Join(e.work, "dl-state")}, args...)...)
}

func (e *engines) dockerVersion() string {
	out, _ := e.dockerCmd("version", "-f", "{{.Server.Version}} (client {{.Client.Version}})").Output()
	return strings.TrimSpace(string(out))
}

// cleanups run, last first, before a fatal error exits: dockerd must not
// outlive the check.
var cleanups []func()

func fatalf(format string, a ...any) {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	log.Fatalf(format, a...)
}

func must(err error, what string) {
	if err != nil {
		fatalf("%s: %v", what, err)
	}
}
