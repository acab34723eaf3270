package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"
)

// cachedStorm measures, for the target of issue 16, storms of n
// `dockless run --rm IMG true` of the cached image at once against n
// sequential runc starts of the bundle with runc spec's config: the
// storm's wall time should stay within the sequential time ÷ cores × 1.5.
// It also starts n runc at once (runc's own storm, what the machine allows
// a runtime with nothing of an image store) and, with a baseline, storms
// of that dockless. Each is run `runs` times, interleaved; medians.
func cachedStorm(bin, baseline string, base []string, ref, bundle string, n, runs int) {
	state, err := os.MkdirTemp("", "bench-runc-storm-")
	if err != nil {
		fmt.Printf("\ncached start storm: %v\n", err)
		return
	}
	defer os.RemoveAll(state)
	runcRun := func(id string) *exec.Cmd {
		return exec.Command("runc", "--root", state, "run", "--bundle", bundle, id)
	}
	var storm, old, runcStorm, seq []time.Duration
	for r := 0; r < runs; r++ {
		d, err := concurrentRuns(bin, base, ref, n)
		if err != nil {
			fmt.Printf("\ncached start storm: %v\n", err)
			return
		}
		storm = append(storm, d)
		if baseline != "" {
			if d, err = concurrentRuns(baseline, base, ref, n); err != nil {
				fmt.Printf("\ncached start storm (-baseline): %v\n", err)
				return
			}
			old = append(old, d)
		}
		d, err = concurrent(n, func(i int) *exec.Cmd { return runcRun(fmt.Sprintf("storm-%d-%d", r, i)) })
		if err != nil {
			fmt.Printf("\ncached start storm: runc: %v\n", err)
			return
		}
		runcStorm = append(runcStorm, d)
		start := time.Now()
		for i := 0; i < n; i++ {
			if out, err := runcRun(fmt.Sprintf("seq-%d-%d", r, i)).CombinedOutput(); err != nil {
				fmt.Printf("\ncached start storm: runc: %v: %s\n", err, out)
				return
			}
		}
		seq = append(seq, time.Since(start))
	}
	cores := goruntime.NumCPU()
	limit := time.Duration(float64(median(seq)) / float64(cores) * 1.5)
	ratio := func(d time.Duration) string { return fmt.Sprintf("%.2fx", float64(d)/float64(limit)) }
	fmt.Printf("\ncached start storm, %d starts at once, medians of %d interleaved storms: bound = %d sequential `runc run` (runc spec's config, %s) ÷ %d cores × 1.5 = %s\n",
		n, runs, n, median(seq).Round(time.Millisecond), cores, limit.Round(time.Millisecond))
	fmt.Printf("  dockless run --rm IMG true: %s wall, %s of the bound (target <= 1.00x)\n", median(storm).Round(time.Millisecond), ratio(median(storm)))
	if baseline != "" {
		fmt.Printf("  -baseline's dockless run:   %s wall, %s of the bound\n", median(old).Round(time.Millisecond), ratio(median(old)))
	}
	fmt.Printf("  runc run (runc's own storm): %s wall, %s of the bound; dockless's storm is %.2fx runc's\n",
		median(runcStorm).Round(time.Millisecond), ratio(median(runcStorm)), float64(median(storm))/float64(median(runcStorm)))
}

// resident reports the memory of the dockless process that stays with a
// running job (the parent of the container's process): PSS and RSS from
// smaps_rollup, per job, with k jobs of the cached image running at once.
// The jobs end on the SIGINT their dockless forwards to the container.
func resident(bin string, base []string, ref string, k int) error {
	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			_ = c.Process.Signal(os.Interrupt)
		}
		for _, c := range cmds {
			_ = c.Wait()
		}
	}()
	for i := 0; i < k; i++ {
		c := exec.Command(bin, append(base, "run", "--rm", "-q", ref, "sh", "-c", "trap 'exit 0' INT; echo up; sleep 60 & wait")...)
		out, err := c.StdoutPipe()
		if err != nil {
			return err
		}
		if err := c.Start(); err != nil {
			return err
		}
		cmds = append(cmds, c)
		if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "up\n" {
			return fmt.Errorf("job %d did not start: %q %v", i, line, err)
		}
	}
	var pss, rss, anon int
	for _, c := range cmds {
		m, err := smapsRollup(c.Process.Pid)
		if err != nil {
			return err
		}
		pss, rss, anon = pss+m["Pss:"], rss+m["Rss:"], anon+m["Anonymous:"]
	}
	mib := func(kib int) float64 { return float64(kib) / float64(k) / 1024 }
	fmt.Printf("  %2d concurrent jobs: PSS %5.1f MiB, RSS %5.1f MiB (anonymous %4.1f) per resident dockless\n", k, mib(pss), mib(rss), mib(anon))
	return nil
}

// smapsRollup reads process pid's smaps_rollup: KiB by field ("Pss:").
func smapsRollup(pid int) (map[string]int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return nil, err
	}
	m := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			m[f[0]], _ = strconv.Atoi(f[1])
		}
	}
	return m, nil
}
