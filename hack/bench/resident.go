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

// cachedStorm starts n `dockless run --rm IMG true` of the cached image at
// once and, for the target of issue 16, n sequential runc starts of the
// bundle with runc spec's config: the storm's wall time should stay within
// the sequential time ÷ cores × 1.5.
func cachedStorm(bin string, base []string, ref, bundle string, n int) {
	storm, err := concurrentRuns(bin, base, ref, n)
	if err != nil {
		fmt.Printf("\ncached start storm: %v\n", err)
		return
	}
	state, err := os.MkdirTemp("", "bench-runc-seq-")
	if err != nil {
		fmt.Printf("\ncached start storm: %v\n", err)
		return
	}
	defer os.RemoveAll(state)
	start := time.Now()
	for i := 0; i < n; i++ {
		if out, err := exec.Command("runc", "--root", state, "run", "--bundle", bundle, fmt.Sprintf("seq-%d", i)).CombinedOutput(); err != nil {
			fmt.Printf("\ncached start storm: runc: %v: %s\n", err, out)
			return
		}
	}
	seq := time.Since(start)
	cores := goruntime.NumCPU()
	limit := time.Duration(float64(seq) / float64(cores) * 1.5)
	fmt.Printf("\ncached start storm: %d concurrent `dockless run --rm IMG true`: %s wall; %d sequential `runc run` (runc spec's config): %s\n",
		n, storm.Round(time.Millisecond), n, seq.Round(time.Millisecond))
	fmt.Printf("  storm / (sequential runc ÷ %d cores × 1.5 = %s): %.2fx (target <= 1.0x)\n", cores, limit.Round(time.Millisecond), float64(storm)/float64(limit))
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
