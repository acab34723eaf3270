package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/dockless/dockless/hack/testimage"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// seed runs the seed's `docker run` line (minus what this node lacks:
// GPUs, InfiniBand, SELinux) through dockerd and dockless, takes the
// config.json each hands its runtime, and prints every field that differs.
// docs/COMPATIBILITY.md explains each remaining difference.
func (e *engines) seed(keep string) {
	work := e.work
	img, err := testimage.Busybox(testimage.Options{})
	must(err, "building the image")
	tag, _ := name.NewTag("dockerdiff/busybox:latest")
	tarPath := filepath.Join(work, "busybox.tar")
	must(tarball.WriteToFile(tarPath, tag, img), "writing the image")
	if out, err := e.dockerCmd("load", "-i", tarPath).CombinedOutput(); err != nil {
		fatalf("docker load: %v %s", err, out)
	}
	ref, err := e.reg.Push("dockerdiff/busybox:latest", img)
	must(err, "pushing the image")
	for _, dir := range []string{"lsf", "home", "tmpdir"} {
		must(os.MkdirAll(filepath.Join(work, dir), 0o755), "making the job's directories")
	}
	for _, f := range []string{"passwd", "group"} {
		must(os.WriteFile(filepath.Join(work, f), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644), "writing the job's files")
	}
	seed := func(cidfile, name string) []string {
		return []string{
			"--cidfile", cidfile, "-u", "1416339:1000070", "-v", work + "/lsf:/opt/ibm/lsfsuite/lsf",
			"-v", work + "/home:/home/joe.user", "-w", "/home/joe.user", "-v", work + "/tmpdir:/tmp", "--rm",
			"-h", "compute1-exec-203", "--name=" + name,
			"--mount", "type=bind,source=" + work + "/passwd,target=/etc/passwd",
			"--mount", "type=bind,source=" + work + "/group,target=/etc/group",
			"--group-add", "1000070", "--group-add", "1183521",
			"--mount", "type=bind,source=/etc/nsswitch.conf,target=/etc/nsswitch.conf",
			"--mount", "type=bind,source=" + work + "/tmpdir,target=/tmp/23870.tmpdir",
			"--sig-proxy=false", "-e", "LSF_NIOS_JOBSTATUS_INTERVAL=1", "--cpu-shares", "2", "-m", "4096m",
			"--memory-swap", "-1", "--cap-drop=all", "--cap-add=chown", "--cap-add=kill", "--cap-add=setpcap",
			"--security-opt=no-new-privileges", "--cap-add=IPC_LOCK", "--cap-add=CAP_SYS_NICE",
			"--ulimit", "memlock=8388608",
		}
	}

	// docker: detached, so its config.json can be read while it runs.
	args := append(append([]string{"run", "-d"}, seed(filepath.Join(work, "docker.cid"), "lsf_23870_1")...), "dockerdiff/busybox:latest", "sleep", "60")
	if out, err := e.dockerCmd(args...).CombinedOutput(); err != nil {
		fatalf("docker run: %v %s", err, out)
	}
	cid, _ := os.ReadFile(filepath.Join(work, "docker.cid"))
	dockerCfg := load(waitFile(filepath.Join(work, "dockerd", "exec"), strings.TrimSpace(string(cid))))
	_ = e.dockerCmd("rm", "-f", strings.TrimSpace(string(cid))).Run()

	// dockless: in the foreground, stopped once its config.json is read.
	dl := e.docklessCmd(append(append([]string{"run", "-q"}, seed(filepath.Join(work, "dockless.cid"), "lsf_23870_2")...), ref, "sleep", "60")...)
	dl.Stderr = os.Stderr
	must(dl.Start(), "dockless run")
	dlID := waitID(filepath.Join(work, "dockless.cid"))
	docklessCfg := load(waitFile(filepath.Join(work, "dl-state"), dlID))
	_ = dl.Process.Signal(os.Interrupt)
	_ = dl.Wait()

	if keep != "" {
		for name, cfg := range map[string]map[string]any{"docker.config.json": dockerCfg, "dockless.config.json": docklessCfg} {
			b, _ := json.MarshalIndent(cfg, "", "  ")
			must(os.WriteFile(filepath.Join(keep, name), b, 0o644), "keeping the configs")
		}
	}
	diffs := compare(dockerCfg, docklessCfg)
	fmt.Printf("seed job: dockerd %s vs dockless — %d fields differ\n\n", e.dockerVersion(), len(diffs))
	for _, d := range diffs {
		fmt.Println(d)
	}
	fmt.Println()
}

func waitID(path string) string {
	for i := 0; i < 300; i++ {
		if b, err := os.ReadFile(path); err == nil && len(b) == 64 {
			return string(b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fatalf("no container ID in %s", path)
	return ""
}

// waitFile finds <root>/**/<id>/config.json.
func waitFile(root, id string) string {
	for i := 0; i < 300; i++ {
		var found string
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == "config.json" && filepath.Base(filepath.Dir(p)) == id {
				found = p
				return filepath.SkipAll
			}
			return nil
		})
		if found != "" {
			return found
		}
		time.Sleep(100 * time.Millisecond)
	}
	fatalf("no config.json for %s under %s", id, root)
	return ""
}

func load(path string) map[string]any {
	raw, err := os.ReadFile(path)
	if err != nil {
		fatalf("%v", err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		fatalf("%v", err)
	}
	return v
}

// compare walks both configs and reports leaf differences by path.
// Mount lists are compared by destination, environment lists as sets;
// host paths of the test directory and container IDs are normalised away.
func compare(docker, dockless map[string]any) []string {
	var out []string
	var walk func(path string, a, b any)
	walk = func(path string, a, b any) {
		switch av := a.(type) {
		case map[string]any:
			bv, ok := b.(map[string]any)
			if !ok {
				out = append(out, fmt.Sprintf("%-40s docker: %s  dockless: %s", path, short(a), short(b)))
				return
			}
			keys := map[string]bool{}
			for k := range av {
				keys[k] = true
			}
			for k := range bv {
				keys[k] = true
			}
			for _, k := range sortedKeys(keys) {
				walk(path+"."+k, av[k], bv[k])
			}
		default:
			if path == ".mounts" {
				a, b = byDestination(a), byDestination(b)
				walk(path+"[dest]", a, b)
				return
			}
			if path == ".process.env" {
				a, b = asSet(a), asSet(b)
			}
			if !reflect.DeepEqual(a, b) {
				out = append(out, fmt.Sprintf("%-40s docker: %s  dockless: %s", path, short(a), short(b)))
			}
		}
	}
	walk("", docker, dockless)
	return out
}

func byDestination(v any) any {
	list, _ := v.([]any)
	m := map[string]any{}
	for _, e := range list {
		mm := e.(map[string]any)
		dst, _ := mm["destination"].(string)
		delete(mm, "source")
		m[dst] = mm
	}
	return m
}

func asSet(v any) any {
	list, _ := v.([]any)
	var s []string
	for _, e := range list {
		s = append(s, fmt.Sprint(e))
	}
	sort.Strings(s)
	return s
}

func sortedKeys(m map[string]bool) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

func short(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, _ := json.Marshal(v)
	if len(b) > 160 {
		return string(b[:160]) + "…"
	}
	return string(b)
}
