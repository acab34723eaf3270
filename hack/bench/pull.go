package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dockless/dockless/hack/testimage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"golang.org/x/sys/unix"
)

// bigImage is busybox plus layers of random (incompressible) data.
func bigImage(layers, size int) (v1.Image, error) {
	img, err := testimage.Busybox(testimage.Options{Env: []string{fmt.Sprintf("BIG=%d", time.Now().UnixNano())}})
	if err != nil {
		return nil, err
	}
	for i := 0; i < layers; i++ {
		big, err := testimage.WithBigFile(size)
		if err != nil {
			return nil, err
		}
		ls, err := big.Layers()
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, ls[len(ls)-1]); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// layeredImage is busybox with k more layers of one small file each.
func layeredImage(k int) (v1.Image, error) {
	img, err := testimage.Busybox(testimage.Options{Env: []string{fmt.Sprintf("LAYERS=%d", time.Now().UnixNano())}})
	for i := 0; i < k && err == nil; i++ {
		var one v1.Image
		one, err = testimage.Busybox(testimage.Options{Extra: []testimage.File{{Name: fmt.Sprintf("layer-%d", i), Mode: 0o644, Body: []byte(fmt.Sprintf("layer %d %d\n", i, time.Now().UnixNano()))}}})
		if err != nil {
			break
		}
		var ls []v1.Layer
		if ls, err = one.Layers(); err == nil {
			img, err = mutate.AppendLayers(img, ls[len(ls)-1])
		}
	}
	return img, err
}

// coldPulls times one cold pull of ref by dockless, ctr (a private
// containerd), docker (a private dockerd) and podman, each installed one.
func coldPulls(work, bin, ref string) []row {
	var rows []row
	timeIt := func(name string, cmd *exec.Cmd) {
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Printf("%-40s failed: %v %s\n", name, err, lastLine(out))
			return
		}
		rows = append(rows, row{name, time.Since(start)})
	}
	timeIt("dockless pull (embedded store)", exec.Command(bin, "--root", filepath.Join(work, "pull-store"), "--state", filepath.Join(work, "pull-state"), "pull", "-q", ref))
	if sock, stop := startDaemon(work, "containerd"); sock != "" {
		timeIt("ctr pull (containerd "+version("containerd")+")", exec.Command("ctr", "--address", sock, "images", "pull", "--plain-http", ref))
		stop()
	}
	if sock, stop := startDaemon(work, "dockerd"); sock != "" {
		cmd := exec.Command("/usr/bin/docker", "pull", "-q", ref)
		cmd.Env = append(os.Environ(), "DOCKER_HOST=unix://"+sock)
		timeIt("docker pull (dockerd "+version("dockerd")+")", cmd)
		stop()
	}
	if _, err := exec.LookPath("podman"); err == nil {
		timeIt("podman pull", exec.Command("podman", "--root", filepath.Join(work, "podman"), "pull", "--tls-verify=false", "-q", ref))
	} else {
		fmt.Printf("%-40s not installed\n", "podman")
	}
	return rows
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func version(bin string) string {
	out, _ := exec.Command(bin, "--version").Output()
	f := strings.Fields(string(out))
	for _, w := range f {
		if len(w) > 0 && w[0] >= '0' && w[0] <= '9' {
			return strings.TrimSuffix(w, ",")
		}
	}
	return "?"
}

// startDaemon starts a private containerd or dockerd and returns its
// socket and a stop function ("" when it is not installed or fails).
func startDaemon(work, name string) (string, func()) {
	if _, err := exec.LookPath(name); err != nil {
		fmt.Printf("%-40s not installed\n", name)
		return "", nil
	}
	dir := filepath.Join(work, name)
	_ = os.MkdirAll(dir, 0o755)
	if name == "containerd" {
		sock, stop, err := testimage.StartContainerd(dir, "")
		if err != nil {
			fmt.Printf("%-40s failed to start: %v\n", name, err)
			return "", nil
		}
		return sock, stop
	}
	sock := filepath.Join(dir, "sock")
	cmd := exec.Command("dockerd", "--iptables=false", "--bridge=none", "--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"), "-H", "unix://"+sock, "--pidfile", filepath.Join(dir, "pid"))
	if err := cmd.Start(); err != nil {
		fmt.Printf("%-40s failed to start: %v\n", name, err)
		return "", nil
	}
	// dockerd bind-mounts its data root onto itself: stop it gracefully,
	// and take the mount away whatever happened, or the work directory
	// cannot be removed.
	stop := func() {
		_ = cmd.Process.Signal(unix.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = unix.Unmount(filepath.Join(dir, "data"), unix.MNT_DETACH)
	}
	for i := 0; i < 300; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			time.Sleep(time.Second) // dockerd answers before it is ready
			return sock, stop
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	fmt.Printf("%-40s did not come up\n", name)
	return "", nil
}

// storm starts n `dockless run --rm` of one uncached image at once on an
// empty store and returns the wall time and the most GETs of any blob.
func storm(work, bin string, reg *testimage.Registry, n int) (time.Duration, int, error) {
	img, err := testimage.Busybox(testimage.Options{Env: []string{fmt.Sprintf("STORM=%d", time.Now().UnixNano())}})
	if err != nil {
		return 0, 0, err
	}
	ref, err := reg.Push("bench/storm:1", img)
	if err != nil {
		return 0, 0, err
	}
	reg.Reset()
	base := []string{"--root", filepath.Join(work, "storm-store"), "--state", filepath.Join(work, "storm-state")}
	d, err := concurrentRuns(bin, base, ref, n)
	if err != nil {
		return d, 0, err
	}
	most := 0
	for _, c := range reg.BlobGets("bench/storm") {
		most = max(most, c)
	}
	return d, most, nil
}

// concurrentRuns starts n `dockless run --rm IMG true` at once and returns
// their wall time.
func concurrentRuns(bin string, base []string, ref string, n int) (time.Duration, error) {
	return concurrent(n, func(int) *exec.Cmd {
		return exec.Command(bin, append(base, "run", "--rm", "-q", ref, "true")...)
	})
}

// concurrent runs the n commands cmd(i) at once and returns the wall time
// until the last one ended (and one of their errors, if any failed).
func concurrent(n int, cmd func(i int) *exec.Cmd) (time.Duration, error) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := cmd(i).CombinedOutput(); err != nil {
				errs <- fmt.Errorf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	return d, <-errs
}
