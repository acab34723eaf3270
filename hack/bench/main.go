// Command bench measures container start-to-exit time of dockless side by
// side with the OCI runtimes installed on the node (runc, crun), all on the
// same busybox image, and prints medians and ratios; dockless-runc (its OCI
// command line) runs the same bundles as runc and crun. It serves the image
// from a registry on 127.0.0.1 and pulls it once first, so dockless's runs
// are cache hits; runc and crun get an equivalent prepared bundle.
//
// Usage: go run ./hack/bench -dockless bin/dockless [-n 30]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/dockless/dockless/hack/testimage"
	"github.com/dockless/dockless/spec"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func main() {
	dockless := flag.String("dockless", "bin/dockless", "dockless binary")
	n := flag.Int("n", 30, "runs per runtime")
	pullMiB := flag.Int("pull-mib", 256, "size of the cold-pull image's data (4 layers); 0 skips the pull comparison")
	stormN := flag.Int("storm", 32, "concurrent runs of one uncached image; 0 skips the start storm")
	flag.Parse()
	if os.Geteuid() != 0 {
		log.Fatal("bench: run as root")
	}
	bin, err := filepath.Abs(*dockless)
	if err != nil {
		log.Fatal(err)
	}
	work, err := os.MkdirTemp("", "dockless-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(work)

	reg, err := testimage.StartRegistry()
	if err != nil {
		log.Fatal(err)
	}
	defer reg.Close()
	img, err := testimage.Busybox(testimage.Options{})
	if err != nil {
		log.Fatal(err)
	}
	ref, err := reg.Push("bench/busybox:latest", img)
	if err != nil {
		log.Fatal(err)
	}
	base := []string{"--root", filepath.Join(work, "store"), "--state", filepath.Join(work, "state")}
	if out, err := exec.Command(bin, append(base, "pull", "-q", ref)...).CombinedOutput(); err != nil {
		log.Fatalf("pull: %v\n%s", err, out)
	}
	bundle, err := prepareBundle(work)
	if err != nil {
		log.Fatal(err)
	}

	var rows []row
	d, err := median(*n, func(int) *exec.Cmd {
		return exec.Command(bin, append(base, "run", "--rm", "-q", ref, "true")...)
	})
	if err != nil {
		log.Fatalf("dockless: %v", err)
	}
	rows = append(rows, row{"dockless run --rm IMG true", d})
	same, err := docklessBundle(work, img)
	if err != nil {
		log.Fatal(err)
	}
	// dockless's OCI command line, as containerd's shim runs it.
	ociRuntime := filepath.Join(work, "dockless-runc")
	if err := os.Symlink(bin, ociRuntime); err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{ociRuntime, "runc", "crun"} {
		path, err := exec.LookPath(name) // a path is taken as it is
		rt := filepath.Base(name)
		if err != nil {
			fmt.Printf("%-30s not installed\n", rt)
			continue
		}
		for _, b := range []struct{ label, dir string }{{"runc spec's config", bundle}, {"dockless's config", same}} {
			d, err := median(*n, func(i int) *exec.Cmd {
				return exec.Command(path, "--root", filepath.Join(work, rt+"-state"), "run", "--bundle", b.dir, fmt.Sprintf("bench-%s-%d", rt, i))
			})
			if err != nil {
				fmt.Printf("%-30s failed: %v\n", rt+" run ("+b.label+")", err)
				continue
			}
			rows = append(rows, row{rt + " run (" + b.label + ")", d})
		}
	}
	fmt.Printf("\nmedian wall time of %d runs, busybox `true`, image cached\n", *n)
	fmt.Printf("%-40s %12s %10s\n", "command", "median", "ratio")
	for _, r := range rows {
		fmt.Printf("%-40s %12s %9.2fx\n", r.name, r.median.Round(time.Microsecond), float64(rows[0].median)/float64(r.median))
	}
	fmt.Println("ratio = dockless median / this runtime's median. dockless includes the image lookup, the snapshot, the rootfs mount")
	fmt.Println("and their removal; \"dockless's config\" is the spec dockless builds (docker's seccomp profile, cgroup mounts) on a static rootfs.")

	if *pullMiB > 0 {
		big, err := bigImage(4, *pullMiB<<20/4)
		if err != nil {
			log.Fatal(err)
		}
		bigRef, err := reg.Push("bench/big:1", big)
		if err != nil {
			log.Fatal(err)
		}
		pulls := coldPulls(work, bin, bigRef)
		fmt.Printf("\ncold pull and unpack of a %d MiB image in 4 random-data layers from 127.0.0.1\n", *pullMiB)
		fmt.Printf("%-40s %12s %10s\n", "command", "time", "ratio")
		for _, r := range pulls {
			fmt.Printf("%-40s %12s %9.2fx\n", r.name, r.median.Round(time.Millisecond), float64(pulls[0].median)/float64(r.median))
		}
	}
	if *stormN > 0 {
		d, most, err := storm(work, bin, reg, *stormN)
		if err != nil {
			log.Fatalf("start storm: %v", err)
		}
		fmt.Printf("\nstart storm: %d concurrent `dockless run --rm` of one uncached image: %s wall, each blob fetched at most %d time(s)\n", *stormN, d.Round(time.Millisecond), most)
	}
}

// row is one measured command.
type row struct {
	name   string
	median time.Duration
}

// median runs each command n times (after one warm-up) and returns the
// median wall time.
func median(n int, cmd func(int) *exec.Cmd) (time.Duration, error) {
	if out, err := cmd(-1).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	times := make([]time.Duration, n)
	for i := range times {
		c := cmd(i)
		start := time.Now()
		if out, err := c.CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%v: %s", err, out)
		}
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	return times[n/2], nil
}

// prepareBundle makes an OCI bundle whose rootfs is the host's busybox and
// whose config is `runc spec`'s default running `true`.
func prepareBundle(work string) (string, error) {
	bundle := filepath.Join(work, "bundle")
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755); err != nil {
		return "", err
	}
	bb, err := os.ReadFile(testimage.BusyboxPath)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), bb, 0o755); err != nil {
		return "", err
	}
	for _, a := range []string{"sh", "true"} {
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", a)); err != nil {
			return "", err
		}
	}
	runc, err := exec.LookPath("runc")
	if err != nil {
		return "", fmt.Errorf("runc is needed to write the bundle's config: %w", err)
	}
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		return "", fmt.Errorf("runc spec: %v: %s", err, out)
	}
	p := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return "", err
	}
	proc := cfg["process"].(map[string]any)
	proc["args"] = []string{"/bin/true"}
	proc["terminal"] = false
	out, err := json.MarshalIndent(cfg, "", "\t")
	if err != nil {
		return "", err
	}
	return bundle, os.WriteFile(p, out, 0o644)
}

// docklessBundle is a bundle with the busybox rootfs and the config.json
// dockless builds for `run --rm IMG true`, to separate the runtime's cost
// from the spec's.
func docklessBundle(work string, img v1.Image) (string, error) {
	bundle := filepath.Join(work, "bundle-dockless")
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return "", err
	}

	cfg, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	s, err := spec.Build(&spec.Request{Network: "host", Cmd: []string{"true"}, Hostname: "bench"}, ocispec.ImageConfig{Env: cfg.Config.Env}, spec.Host{Rootfs: filepath.Join(work, "bundle", "rootfs")})
	if err != nil {
		return "", err
	}
	out, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return "", err
	}
	return bundle, os.WriteFile(filepath.Join(bundle, "config.json"), out, 0o644)
}
