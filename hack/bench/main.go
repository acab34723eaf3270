// Command bench measures container start-to-exit time of dockless side by
// side with the OCI runtimes installed on the node (runc, crun), all on the
// same busybox image, and prints medians and ratios; dockless-runc (its OCI
// command line) runs the same bundles as runc, crun and, with -runc153, a
// runc built from the module cache (the libcontainer dockless embeds). The
// commands run interleaved, so that the node's other load falls on all
// alike. It serves the image from a registry on 127.0.0.1 and pulls it
// once first, so dockless's runs are cache hits (it counts the registry
// requests they make); runc and crun get an equivalent prepared bundle.
// It then starts storms of the cached image against sequential runc
// starts and against runc's own storm, reports the memory of the dockless that stays with 1 and 16
// running jobs, measures cold pulls and a storm of an uncached image, and
// times a nine-step build from a fresh state against buildah bud.
//
// Usage: go run ./hack/bench -dockless bin/dockless [-n 30] [-runc153 PATH] [-baseline PATH]
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
	"strings"
	"time"

	"github.com/dockless/dockless/hack/testimage"
	"github.com/dockless/dockless/runtime/deadarch"
	"github.com/dockless/dockless/spec"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func main() {
	dockless := flag.String("dockless", "bin/dockless", "dockless binary")
	n := flag.Int("n", 30, "runs per runtime")
	pullMiB := flag.Int("pull-mib", 256, "size of the cold-pull image's data (4 layers); 0 skips the pull comparison")
	stormN := flag.Int("storm", 32, "concurrent runs of the cached image, and of an uncached one; 0 skips the start storms")
	stormRuns := flag.Int("storm-runs", 5, "storms of the cached image (each against runc's), interleaved; medians")
	baseline := flag.String("baseline", "", "another dockless binary whose `run --rm` is measured too (e.g. the build before a change); \"\" skips it")
	cacheNodes := flag.Int("cache-nodes", 4, "nodes of the shared layer cache's start storm (with -pull-mib's image); 0 skips the shared cache measurements")
	buildRuns := flag.Int("build-runs", 5, "runs of the build benchmark (dockless build against buildah bud); 0 skips it")
	keep := flag.Bool("keep", false, "keep the work directory (the store, the two bundles) and print its path, to trace one command by hand")
	runc153 := flag.String("runc153", "", "a runc built from the module cache's runc (the libcontainer dockless embeds), to compare dockless-runc with; \"\" skips it")
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
	if *keep {
		fmt.Println("work directory kept:", work)
	} else {
		defer os.RemoveAll(work)
	}

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

	same, err := docklessBundle(work, img)
	if err != nil {
		log.Fatal(err)
	}
	runners := []runner{{"dockless run --rm IMG true", func(int) *exec.Cmd {
		return exec.Command(bin, append(base, "run", "--rm", "-q", ref, "true")...)
	}}}
	if *baseline != "" {
		// Another build of dockless on the same store, to show what a change pays.
		runners = append(runners, runner{"dockless run (-baseline)", func(int) *exec.Cmd {
			return exec.Command(*baseline, append(base, "run", "--rm", "-q", ref, "true")...)
		}})
	}
	runners = append(runners, bundleRunners(work, bin, *runc153, bundle, same)...)
	runners, times, requests, err := interleaved(*n, runners, reg)
	if err != nil {
		log.Fatal(err)
	}
	printStarts(runners, times, requests, *n, *baseline != "")
	if *stormN > 0 {
		cachedStorm(bin, *baseline, base, ref, bundle, *stormN, *stormRuns)
	}
	fmt.Println("\nthe dockless that stays with a running job (sleep), image cached")
	for _, k := range []int{1, 16} {
		if err := resident(bin, base, ref, k); err != nil {
			log.Fatalf("resident: %v", err)
		}
	}
	pullsAndStorm(work, bin, reg, *pullMiB, *stormN, *cacheNodes)
	if *buildRuns > 0 {
		buildBench(work, bin, *buildRuns)
	}
}

// pullsAndStorm measures cold pulls of a pullMiB image (0: none), the
// shared layer cache with that image and cacheNodes nodes (0: not), and a
// start storm of stormN runs of an uncached image (0: none).
func pullsAndStorm(work, bin string, reg *testimage.Registry, pullMiB, stormN, cacheNodes int) {
	if pullMiB > 0 {
		big, err := bigImage(4, pullMiB<<20/4)
		if err != nil {
			log.Fatal(err)
		}
		bigRef, err := reg.Push("bench/big:1", big)
		if err != nil {
			log.Fatal(err)
		}
		pulls := coldPulls(work, bin, bigRef)
		fmt.Printf("\ncold pull and unpack of a %d MiB image in 4 random-data layers from 127.0.0.1\n", pullMiB)
		fmt.Printf("%-40s %12s %10s\n", "command", "time", "ratio")
		for _, r := range pulls {
			fmt.Printf("%-40s %12s %9.2fx\n", r.name, r.median.Round(time.Millisecond), float64(pulls[0].median)/float64(r.median))
		}
		if cacheNodes > 0 {
			cacheBench(work, bin, reg, "bench/big", bigRef, layerDigests(big), 3, cacheNodes)
		}
	}
	if stormN > 0 {
		d, most, err := storm(work, bin, reg, stormN)
		if err != nil {
			log.Fatalf("start storm: %v", err)
		}
		fmt.Printf("\nstart storm: %d concurrent `dockless run --rm` of one uncached image: %s wall, each blob fetched at most %d time(s)\n", stormN, d.Round(time.Millisecond), most)
	}
}

// printStarts prints the start latencies: each runner's median, spread
// and ratio, the registry requests, and the targets.
func printStarts(runners []runner, times map[string][]time.Duration, requests, n int, baseline bool) {
	fmt.Printf("\nmedian wall time of %d interleaved runs each, busybox `true`, image cached\n", n)
	fmt.Printf("%-44s %12s %12s %10s\n", "command", "median", "min..max", "ratio")
	for _, r := range runners {
		t := times[r.name]
		fmt.Printf("%-44s %12s %12s %9.2fx\n", r.name, median(t).Round(time.Microsecond), spread(t), float64(median(times[runners[0].name]))/float64(median(t)))
	}
	fmt.Println("ratio = dockless run's median / this command's median. dockless run includes the image lookup, the snapshot, the rootfs")
	fmt.Println("mount and their removal; \"dockless's config\" is the spec dockless builds (docker's seccomp profile, cgroup mounts) on a static rootfs.")
	if baseline {
		fmt.Printf("registry requests after the warm-up, `dockless run` and -baseline's together: %d in %d starts each\n", requests, n)
	} else {
		fmt.Printf("registry requests per `dockless run` (after the warm-up): %d in %d starts\n", requests, n)
	}
	targets(times)
}

// row is one measured command.
type row struct {
	name   string
	median time.Duration
}

// runner is one command measured: cmd(i) is its i-th run (-1: the
// warm-up).
type runner struct {
	name string
	cmd  func(i int) *exec.Cmd
}

// bundleRunners run the two bundles (runc spec's config, dockless's) with
// dockless's OCI command line (as containerd's shim runs it), the node's
// runc, runc153 (if set) and crun (if installed).
func bundleRunners(work, bin, runc153, bundle, same string) []runner {
	ociRuntime := filepath.Join(work, "dockless-runc")
	if err := os.Symlink(bin, ociRuntime); err != nil {
		log.Fatal(err)
	}
	var out []runner
	for _, rt := range []struct{ label, name string }{{"dockless-runc", ociRuntime}, {"runc", "runc"}, {"runc 1.5.3", runc153}, {"crun", "crun"}} {
		if rt.name == "" {
			continue
		}
		path, err := exec.LookPath(rt.name) // a path is taken as it is
		if err != nil {
			fmt.Printf("%-30s not installed\n", rt.label)
			continue
		}
		state := filepath.Join(work, strings.ReplaceAll(rt.label, " ", "-")+"-state")
		for _, b := range []struct{ label, dir string }{{"runc spec's config", bundle}, {"dockless's config", same}} {
			out = append(out, runner{rt.label + " run (" + b.label + ")", func(i int) *exec.Cmd {
				return exec.Command(path, "--root", state, "run", "--bundle", b.dir, fmt.Sprintf("bench-%d", i))
			}})
		}
	}
	return out
}

// interleaved warms each runner up once, then runs them in turn n times
// (so that the node's load falls on all alike) and returns the runners
// it ran, each one's wall times, and the requests reg answered after the
// warm-up. A peer that cannot run here (crun on a hybrid cgroup node) is
// left out with a line saying why; a dockless runner that fails is an
// error.
func interleaved(n int, all []runner, reg *testimage.Registry) ([]runner, map[string][]time.Duration, int, error) {
	var runners []runner
	for _, r := range all {
		if out, err := r.cmd(-1).CombinedOutput(); err != nil {
			if strings.HasPrefix(r.name, "dockless") {
				return nil, nil, 0, fmt.Errorf("%s: %v: %s", r.name, err, out)
			}
			fmt.Printf("%s: cannot run here, left out (%v: %s)\n", r.name, err, lastLine(out))
			continue
		}
		runners = append(runners, r)
	}
	reg.Reset()
	times := map[string][]time.Duration{}
	for i := 0; i < n; i++ {
		for _, r := range runners {
			start := time.Now()
			if out, err := r.cmd(i).CombinedOutput(); err != nil {
				return nil, nil, 0, fmt.Errorf("%s: %v: %s", r.name, err, out)
			}
			times[r.name] = append(times[r.name], time.Since(start))
		}
	}
	return runners, times, reg.Requests(), nil
}

func median(t []time.Duration) time.Duration {
	t = slices.Clone(t)
	slices.Sort(t)
	return t[len(t)/2]
}

// spread is the fastest and the slowest run, in milliseconds.
func spread(t []time.Duration) string {
	return fmt.Sprintf("%d..%d", slices.Min(t).Milliseconds(), slices.Max(t).Milliseconds())
}

// targets prints the ratios issue 16 sets targets for.
func targets(times map[string][]time.Duration) {
	fmt.Println("\ntargets (ratio of medians):")
	for _, t := range []struct {
		a, b string
		max  float64
	}{
		{"dockless run --rm IMG true", "runc run (dockless's config)", 1.3},
		{"dockless run --rm IMG true", "runc run (runc spec's config)", 1.6},
		{"dockless-runc run (runc spec's config)", "runc 1.5.3 run (runc spec's config)", 1.1},
		{"dockless-runc run (dockless's config)", "runc 1.5.3 run (dockless's config)", 1.1},
	} {
		a, b := times[t.a], times[t.b]
		if a == nil || b == nil {
			continue
		}
		r := float64(median(a)) / float64(median(b))
		fmt.Printf("  %-40s / %-38s %5.2fx (target <= %.1fx)\n", t.a, t.b, r, t.max)
	}
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
	s, err := spec.Build(&spec.Request{Network: "host", Cmd: []string{"true"}, Hostname: "bench"}, ocispec.ImageConfig{Env: cfg.Config.Env}, spec.Host{Rootfs: filepath.Join(work, "bundle", "rootfs"), NoX32: !deadarch.KernelTakesX32(), NoIA32: !deadarch.KernelRunsIA32()})
	if err != nil {
		return "", err
	}
	out, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return "", err
	}
	return bundle, os.WriteFile(filepath.Join(bundle, "config.json"), out, 0o644)
}

// layerDigests are the digests of img's layer blobs.
func layerDigests(img v1.Image) []string {
	ls, err := img.Layers()
	if err != nil {
		log.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			log.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}
