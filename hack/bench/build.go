package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/dockless/dockless/hack/testimage"
)

// nineSteps is the research's benchmark Dockerfile
// (../shared/research/build-and-shared-store.md §2.6): two stages, FROM
// scratch with busybox copied in, RUN in exec and shell form, a cache
// mount, COPY --chmod, ARG, ENV, WORKDIR and USER.
const nineSteps = `FROM scratch AS base
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG GREETING=hello
ENV GREETING=$GREETING
WORKDIR /work
RUN --mount=type=cache,target=/cache echo "$GREETING" > /cache/g && cp /cache/g /work/greeting
FROM base
COPY --chmod=0755 --from=base /work/greeting /work/greeting2
USER 1000:1000
RUN test "$(id -u)" = 1000 && test -x /work/greeting2
`

// buildBench times the nine-step build from a fresh build state each time,
// dockless build (as root, with a range of subordinate ids from a test
// file, exporting an OCI tarball) against buildah bud where installed (a
// fresh storage root each time), runs of each interleaved.
func buildBench(work, bin string, runs int) {
	dir := filepath.Join(work, "build")
	ctxDir := filepath.Join(dir, "context")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		fmt.Println("build bench:", err)
		return
	}
	bb, err := os.ReadFile(testimage.BusyboxPath)
	if err == nil {
		err = os.WriteFile(filepath.Join(ctxDir, "busybox"), bb, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(nineSteps), 0o644)
	}
	ids := filepath.Join(dir, "subid")
	if err == nil {
		err = os.WriteFile(ids, []byte("root:600000:65536\n"), 0o644)
	}
	if err != nil {
		fmt.Println("build bench:", err)
		return
	}
	builders := []runner{{"dockless build (fresh state)", func(i int) *exec.Cmd {
		state := filepath.Join(dir, fmt.Sprintf("state-%d", i))
		policy := filepath.Join(dir, fmt.Sprintf("policy-%d.toml", i))
		body := fmt.Sprintf("[build]\nroot = %q\nsubuid_file = %q\nsubgid_file = %q\n", state, ids, ids)
		_ = os.WriteFile(policy, []byte(body), 0o644)
		out := filepath.Join(dir, fmt.Sprintf("image-%d.tar", i))
		return exec.Command(bin, "--policy", policy, "--root", filepath.Join(work, "store"), "--state", filepath.Join(work, "state"),
			"build", "-q", "-o", "type=oci,dest="+out, ctxDir)
	}}}
	if path, err := exec.LookPath("buildah"); err == nil {
		// runc, as dockless's RUN steps: buildah would take crun where
		// installed, which refuses hybrid cgroup nodes.
		runc, _ := exec.LookPath("runc")
		builders = append(builders, runner{"buildah bud (fresh storage)", func(i int) *exec.Cmd {
			root := filepath.Join(dir, fmt.Sprintf("buildah-%d", i))
			return exec.Command(path, "--root", root+"/root", "--runroot", root+"/run", "bud", "--runtime", runc, "-q", "-t", "bench-build", ctxDir)
		}})
	}
	times := map[string][]time.Duration{}
	for i := range runs {
		for _, b := range builders {
			cmd := b.cmd(i)
			start := time.Now()
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Printf("build bench: %s: %v %s\n", b.name, err, lastLine(out))
				return
			}
			times[b.name] = append(times[b.name], time.Since(start))
		}
		if len(builders) > 1 {
			// buildah leaves its overlay mounts behind a fresh root: clean it up.
			_ = exec.Command("buildah", "--root", filepath.Join(dir, fmt.Sprintf("buildah-%d", i), "root"), "--runroot", filepath.Join(dir, fmt.Sprintf("buildah-%d", i), "run"), "rmi", "-a", "-f").Run()
		}
	}
	fmt.Printf("\nthe nine-step Dockerfile of the build research, fresh state, median of %d (target: dockless <= 0.6 s); ratio = dockless build's median / this one's\n", runs)
	first := median(times[builders[0].name])
	for _, b := range builders {
		m := median(times[b.name])
		fmt.Printf("%-40s %12s %9.2fx  %s\n", b.name, m.Round(time.Millisecond), float64(first)/float64(m), spread(times[b.name]))
	}
	if len(builders) == 1 {
		fmt.Println("buildah: not installed, its comparison is skipped")
	}
}
