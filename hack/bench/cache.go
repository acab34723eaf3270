package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/dockless/dockless/hack/testimage"
)

// cacheBench measures what the shared layer cache ([store] shared_cache)
// changes for one node and for a start storm: per-node materialisation
// (dockless pull on an empty store) of ref with no cache, with a cache
// miss (pull, unpack, convert, publish) and with a hit (nothing
// downloaded or unpacked), runs times each; then nodes concurrent
// `dockless run --rm` on empty stores, without and with an empty cache:
// wall time and the most GETs of one layer blob.
func cacheBench(work, bin string, reg *testimage.Registry, repo, ref string, layers []string, runs, nodes int) {
	fresh := func(name string) []string {
		return []string{"--root", filepath.Join(work, name, "store"), "--state", filepath.Join(work, name, "state")}
	}
	n := 0
	timed := func(policy string, args ...string) time.Duration {
		n++
		return timedOn(bin, fresh(fmt.Sprintf("cache-node-%d", n)), policy, args...)
	}
	var none, miss, hit, rehit []time.Duration
	for i := 0; i < runs; i++ {
		pol := cachePolicy(work, fmt.Sprintf("cache-%d", i))
		none = append(none, timed("", "pull", "-q", ref))
		miss = append(miss, timed(pol, "pull", "-q", ref))
		hit = append(hit, timed(pol, "pull", "-q", ref))
		// The same node again: its layers' files are checked already.
		node := fresh(fmt.Sprintf("cache-node-%d", n))
		timedOn(bin, node, pol, "rmi", ref)
		rehit = append(rehit, timedOn(bin, node, pol, "pull", "-q", ref))
	}
	fmt.Printf("\nshared layer cache: per-node pull + unpack (materialisation) of the same image (%d layers), median of %d, each on an empty store\n", len(layers), runs)
	fmt.Printf("%-60s %12s %10s\n", "case", "time", "ratio")
	for _, r := range []row{{"no shared cache", median(none)}, {"shared cache miss (pull, convert, publish)", median(miss)},
		{"shared cache hit (no layer downloaded; files hashed once)", median(hit)}, {"shared cache hit, files checked before on the node", median(rehit)}} {
		fmt.Printf("%-60s %12s %9.2fx\n", r.name, r.median.Round(time.Millisecond), float64(median(none))/float64(r.median))
	}
	cachedStarts(bin, fresh("cache-node-1"), fresh(fmt.Sprintf("cache-node-%d", n)), cachePolicy(work, fmt.Sprintf("cache-%d", runs-1)), ref, runs*3)
	perLayer(work, bin, reg, fresh, runs*3)
	cacheStorm(work, bin, reg, fresh, repo, ref, layers, nodes)
}

// cachedStarts compares `dockless run --rm IMG true` on a node that
// unpacked the image (plain) with one whose layers are the cache's files
// (cached), each mounted at every start: runs interleaved runs each.
func cachedStarts(bin string, plain, cached []string, policy, ref string, runs int) {
	var p, c []time.Duration
	for i := 0; i < runs; i++ {
		p = append(p, timedOn(bin, plain, "", "run", "--rm", "-q", ref, "true"))
		c = append(c, timedOn(bin, cached, policy, "run", "--rm", "-q", ref, "true"))
	}
	fmt.Printf("`run --rm IMG true`, median of %d: layers unpacked on the node %s, layers mounted from the shared cache %s\n",
		runs, median(p).Round(time.Millisecond), median(c).Round(time.Millisecond))
}

// cacheStorm starts nodes `dockless run --rm` on empty stores at once,
// without and with an empty shared cache: the wall time and the layer
// GETs.
func cacheStorm(work, bin string, reg *testimage.Registry, fresh func(string) []string, repo, ref string, layers []string, nodes int) {
	for _, withCache := range []bool{false, true} {
		pol := ""
		if withCache {
			pol = cachePolicy(work, "cache-storm")
		}
		reg.Reset()
		start := time.Now()
		var wg sync.WaitGroup
		for i := 0; i < nodes; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				args := append(append(fresh(fmt.Sprintf("storm-%v-%d", withCache, i)), policyArgs(pol)...), "run", "--rm", "-q", ref, "true")
				if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
					fmt.Printf("storm run failed: %v %s\n", err, lastLine(out))
				}
			}()
		}
		wg.Wait()
		d := time.Since(start)
		gets := reg.BlobGets(repo)
		total, most := 0, 0
		for _, l := range layers {
			total += gets[l]
			most = max(most, gets[l])
		}
		fmt.Printf("start storm, %d nodes (empty stores) at once, shared cache %-5v: %s wall, %d layer GETs in all (%d layers), at most %d of one layer\n",
			nodes, withCache, d.Round(time.Millisecond), total, len(layers), most)
		if withCache && most > 1 {
			fmt.Printf("  per blob: %v\n", gets)
		}
	}
}

// timedOn times one dockless command on the node store args name.
func timedOn(bin string, node []string, policy string, args ...string) time.Duration {
	cmd := exec.Command(bin, append(append(node, policyArgs(policy)...), args...)...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Printf("%v failed: %v %s\n", cmd.Args, err, lastLine(out))
		return 0
	}
	return time.Since(start)
}

// cachePolicy writes a policy naming a fresh shared cache below work.
func cachePolicy(work, name string) string {
	p := filepath.Join(work, name+".toml")
	body := fmt.Sprintf("[store]\nshared_cache = %q\n", filepath.Join(work, name))
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		fmt.Println(err)
	}
	return p
}

func policyArgs(policy string) []string {
	if policy == "" {
		return nil
	}
	return []string{"--policy", policy}
}

// perLayer measures what one more layer taken from the shared cache
// costs, apart from what a pull or a start costs whatever its layers:
// busybox (its own layers) and busybox with extra small layers more, all hits already checked on
// the node, their pull (materialisation) and `run --rm` timed runs times
// each, interleaved; the difference over the extra layers is the cost of
// a layer.
func perLayer(work, bin string, reg *testimage.Registry, fresh func(string) []string, runs int) {
	const extra = 16
	pol := cachePolicy(work, "cache-layers")
	var pulls, starts [2][]time.Duration
	refs, counts := [2]string{}, [2]int{}
	var layers []string
	for i, k := range []int{0, extra} {
		img, err := layeredImage(k)
		if err == nil {
			layers = append(layers, layerDigests(img)...)
			counts[i] = len(layerDigests(img))
		}
		if err == nil {
			refs[i], err = reg.Push(fmt.Sprintf("bench/layers:%d", k), img)
		}
		if err != nil {
			fmt.Printf("per-layer cost: %v\n", err)
			return
		}
		timedOn(bin, fresh(fmt.Sprintf("layers-pub-%d", k)), pol, "pull", "-q", refs[i]) // publishes
		timedOn(bin, fresh(fmt.Sprintf("layers-%d", k)), pol, "pull", "-q", refs[i])     // checks the files
	}
	reg.Reset()
	for r := 0; r < runs; r++ {
		for i, k := range []int{0, extra} {
			node := fresh(fmt.Sprintf("layers-%d", k))
			starts[i] = append(starts[i], timedOn(bin, node, pol, "run", "--rm", "-q", refs[i], "true"))
			timedOn(bin, node, pol, "rmi", refs[i])
			pulls[i] = append(pulls[i], timedOn(bin, node, pol, "pull", "-q", refs[i]))
		}
	}
	// Every timed pull a hit: no layer downloaded; no run failed.
	gets, blobs := 0, reg.BlobGets("bench/layers")
	for _, l := range layers {
		gets += blobs[l]
	}
	if slices.Contains(slices.Concat(pulls[0], pulls[1], starts[0], starts[1]), 0) || gets > 0 {
		fmt.Printf("per-layer cost: not measured (a run failed, or %d layer GETs: not all hits)\n", gets)
		return
	}
	fmt.Printf("\nshared cache hit, cost of one more small layer (images of %d and %d layers, files checked before on the node, median of %d interleaved):\n", counts[0], counts[1], runs)
	for _, c := range []struct {
		name string
		d    [2][]time.Duration
	}{{"pull (materialisation)", pulls}, {"`run --rm IMG true` (each layer mounted)", starts}} {
		one, many := median(c.d[0]), median(c.d[1])
		fmt.Printf("%-45s %d layers %s, %d layers %s: %s a layer (goal <= 10ms)\n", c.name, counts[0], one.Round(time.Millisecond), counts[1],
			many.Round(time.Millisecond), ((many - one) / time.Duration(counts[1]-counts[0])).Round(100*time.Microsecond))
	}
}
