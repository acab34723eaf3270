package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dockless/dockless/hack/testimage"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// scenario is one `docker run` line run through both: the flags, the
// image ("" the busybox image, "vol" one with VOLUMEs and ENV) and the
// command. Both run it with --rm in the work directory, stdin /dev/null;
// docker with --network host unless the flags name a network (dockless's
// default is the host's). why, when set, is the documented reason the two
// differ (docs/COMPATIBILITY.md); a difference without one is a finding.
type scenario struct {
	name  string
	flags []string
	image string
	cmd   []string
	why   string
}

// oldClient explains a difference that only docker's client before 23
// (Debian's 20.10) makes.
const oldClient = "docker's client before 23 takes ./bound as a volume name; 23 and later resolve it in the working directory, as dockless (-v row)"

// sh is a command run by the image's shell.
func sh(script string) []string { return []string{"sh", "-c", script} }

// groups are the scenarios, by what they are about; $D is a directory
// holding the file f ("bound"), also reachable as ./bound from the work
// directory, where the file envfile is too.
var groups = []struct {
	title string
	list  []scenario
}{
	{"identity and environment", []scenario{
		{name: "default user", cmd: sh("id")},
		{name: "-u uid:gid", flags: []string{"-u", "1000:100"}, cmd: sh("id; grep Groups /proc/self/status")},
		{name: "-u name", flags: []string{"-u", "alice"}, cmd: sh("id; grep Groups /proc/self/status")},
		{name: "-u unknown uid", flags: []string{"-u", "4242"}, cmd: sh("id; grep Groups /proc/self/status")},
		{name: "--group-add", flags: []string{"-u", "1000:100", "--group-add", "5000", "--group-add", "research"}, cmd: sh("id")},
		{name: "-u attached", flags: []string{"-ualice"}, cmd: sh("id -un")},
		{name: "-e KEY=VALUE", flags: []string{"-e", "K=V,W"}, cmd: sh("echo $K")},
		{name: "-e attached", flags: []string{"-eK=V"}, cmd: sh("echo $K")},
		{name: "-e KEY the caller lacks", flags: []string{"-e", "FROM_IMAGE"}, image: "vol", cmd: sh("echo ${FROM_IMAGE-unset}")},
		{name: "-e KEY the caller has", flags: []string{"-e", "DIFF_SET"}, cmd: sh("echo $DIFF_SET")},
		{name: "--env-file with a bare KEY", flags: []string{"--env-file", "envfile"}, image: "vol", cmd: sh("echo ${FROM_IMAGE-unset} $A")},
		{name: "-e with white space in the name", flags: []string{"-e", "A B=1"}, cmd: sh("true"), why: "refused: a shell cannot read such a name (-e row)"},
		{name: "image ENV", image: "vol", cmd: sh("echo $FROM_IMAGE $PATH")},
		{name: "HOME and TERM", cmd: sh("echo $HOME ${TERM-none}")},
		{name: "-w", flags: []string{"-w", "/tmp"}, cmd: sh("pwd")},
		{name: "-w created", flags: []string{"-w", "/new/dir"}, cmd: sh("pwd")},
		{name: "--entrypoint", flags: []string{"--entrypoint", "/bin/echo"}, cmd: []string{"hi"}},
		{name: "--entrypoint ''", flags: []string{"--entrypoint", ""}, cmd: []string{"echo", "hi"}},
		{name: "-e a value with spaces", flags: []string{"-e", "K=a b  c"}, cmd: sh("echo \"$K\"")},
		{name: "-u unknown name", flags: []string{"-u", "nosuchuser"}, cmd: sh("id")},
		{name: "--group-add unknown name", flags: []string{"--group-add", "nosuchgroup"}, cmd: sh("id")},
		{name: "-u with a home", flags: []string{"-u", "alice"}, cmd: sh("echo $HOME; pwd")},
		{name: "-w relative", flags: []string{"-w", "rel"}, cmd: sh("pwd")},
		{name: "--label-file", flags: []string{"--label-file", "envfile"}, cmd: sh("true")},
	}},
	{"mounts", []scenario{
		{name: "-v", flags: []string{"-v", "$D:/data"}, cmd: sh("cat /data/f")},
		{name: "-v :ro", flags: []string{"-v", "$D:/data:ro"}, cmd: sh("touch /data/x 2>/dev/null; echo $?")},
		{name: "-v attached", flags: []string{"-v$D:/data"}, cmd: sh("cat /data/f")},
		{name: "-v ./relative", flags: []string{"-v", "./bound:/data"}, cmd: sh("cat /data/f"), why: oldClient},
		{name: "--mount source=./relative", flags: []string{"--mount", "type=bind,source=./bound,target=/data"}, cmd: sh("cat /data/f"), why: oldClient},
		{name: "-v :cached", flags: []string{"-v", "$D:/data:cached"}, cmd: sh("cat /data/f")},
		{name: "-v :delegated,rprivate", flags: []string{"-v", "$D:/data:delegated,rprivate"}, cmd: sh("cat /data/f")},
		{name: "-v :z", flags: []string{"-v", "$D:/data:z"}, cmd: sh("cat /data/f")},
		{name: "-v :consistent", flags: []string{"-v", "$D:/data:consistent"}, cmd: sh("cat /data/f")},
		{name: "-v :nocopy", flags: []string{"-v", "$D:/data:nocopy"}, cmd: sh("cat /data/f")},
		{name: "-v :ro,private", flags: []string{"-v", "$D:/data:ro,private"}, cmd: sh("cat /data/f; touch /data/x 2>/dev/null || echo ro")},
		{name: "-v :shared", flags: []string{"-v", "$D:/data:shared"}, cmd: sh("cat /data/f"),
			why: "refused: a user's bind is always private (-v row); docker takes it where the source is on a shared mount"},
		{name: "-v a file", flags: []string{"-v", "$D/f:/etc/motd:ro"}, cmd: sh("cat /etc/motd")},
		{name: "-v destination /", flags: []string{"-v", "$D:/"}, cmd: sh("true")},
		{name: "-v the same destination twice", flags: []string{"-v", "$D:/data", "-v", "$D:/data/"}, cmd: sh("true")},
		{name: "--mount readonly", flags: []string{"--mount", "type=bind,source=$D,target=/data,readonly"}, cmd: sh("touch /data/x 2>/dev/null || echo ro")},
		{name: "--mount missing source", flags: []string{"--mount", "type=bind,source=$D/missing2,target=/data"}, cmd: sh("true")},
		{name: "--mount type=volume", flags: []string{"--mount", "type=volume,target=/data"}, cmd: sh("ls -d /data"), why: "refused: no volumes kept beyond the container (--mount row)"},
		{name: "--tmpfs over a bind", flags: []string{"-v", "$D:/data", "--tmpfs", "/data"}, cmd: sh("true")},
		{name: "-v missing source", flags: []string{"-v", "$D/missing:/data"}, cmd: sh("ls -d /data"), why: "refused: never create host directories on a user's behalf (intended differences)"},
		{name: "-v named volume", flags: []string{"-v", "named:/data"}, cmd: sh("ls -d /data"), why: "refused: no named volumes (-v row)"},
		{name: "image VOLUME seeded", image: "vol", cmd: sh("cat /data/seed; grep -c ' /data ' /proc/mounts")},
		{name: "image VOLUME under --read-only", flags: []string{"--read-only"}, image: "vol", cmd: sh("touch /data/x && echo writable; touch /x 2>/dev/null || echo ro")},
		{name: "bind over an image VOLUME", flags: []string{"-v", "$D:/data"}, image: "vol", cmd: sh("ls /data")},
		{name: "--tmpfs", flags: []string{"--tmpfs", "/scratch"}, cmd: sh("grep ' /scratch ' /proc/mounts | cut -d' ' -f3,4")},
		{name: "--tmpfs options", flags: []string{"--tmpfs", "/scratch:size=1m,mode=1770,exec"}, cmd: sh("grep ' /scratch ' /proc/mounts | cut -d' ' -f3,4")},
		{name: "--mount type=tmpfs", flags: []string{"--mount", "type=tmpfs,target=/t,tmpfs-size=2m"}, cmd: sh("grep ' /t ' /proc/mounts | cut -d' ' -f3,4")},
		{name: "--read-only", flags: []string{"--read-only"}, cmd: sh("touch /x 2>/dev/null || echo ro; grep -E ' /etc/(hosts|hostname|resolv.conf) ' /proc/mounts | cut -d' ' -f2,4 | cut -c1-20 | sort")},
		{name: "--read-only with --tmpfs /tmp", flags: []string{"--read-only", "--tmpfs", "/tmp"}, cmd: sh("touch /tmp/x && echo ok")},
		{name: "default mounts", cmd: sh("grep -E ' /(proc|sys|dev|dev/pts|dev/shm|dev/mqueue|sys/fs/cgroup) ' /proc/mounts | cut -d' ' -f2,3 | sort")},
		{name: "--shm-size", flags: []string{"--shm-size", "128m"}, cmd: sh("grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k'")},
		{name: "--shm-size 0", flags: []string{"--shm-size", "0"}, cmd: sh("grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k'")},
		{name: "--device", flags: []string{"--device", "/dev/null:/dev/mynull"}, cmd: sh("ls -l /dev/mynull | cut -c1-10")},
	}},
	{"resources", []scenario{
		{name: "-m", flags: []string{"-m", "64m"}, cmd: sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes")},
		{name: "-m attached", flags: []string{"-m64m"}, cmd: sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes")},
		{name: "--memory-swap", flags: []string{"-m", "64m", "--memory-swap", "128m"}, cmd: sh("cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo no swap accounting")},
		{name: "--cpu-shares", flags: []string{"--cpu-shares", "512"}, cmd: sh("cat /sys/fs/cgroup/cpu/cpu.shares")},
		{name: "--cpus", flags: []string{"--cpus", "1.5"}, cmd: sh("cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us")},
		{name: "--cpu-quota --cpu-period", flags: []string{"--cpu-quota", "50000", "--cpu-period", "200000"}, cmd: sh("cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us")},
		{name: "--cpuset-cpus --cpuset-mems", flags: []string{"--cpuset-cpus", "0", "--cpuset-mems", "0"}, cmd: sh("cat /sys/fs/cgroup/cpuset/cpuset.cpus /sys/fs/cgroup/cpuset/cpuset.mems")},
		{name: "--pids-limit", flags: []string{"--pids-limit", "20"}, cmd: sh("cat /sys/fs/cgroup/pids/pids.max")},
		{name: "--pids-limit -1", flags: []string{"--pids-limit", "-1"}, cmd: sh("cat /sys/fs/cgroup/pids/pids.max")},
		{name: "--oom-score-adj", flags: []string{"--oom-score-adj", "300"}, cmd: sh("cat /proc/self/oom_score_adj")},
		{name: "--ulimit", flags: []string{"--ulimit", "nofile=1024:2048"}, cmd: sh("ulimit -n; ulimit -Hn")},
		{name: "--ulimit core=0", flags: []string{"--ulimit", "core=0"}, cmd: sh("ulimit -c")},
		{name: "--memory-swap -1", flags: []string{"-m", "64m", "--memory-swap", "-1"}, cmd: sh("cat /sys/fs/cgroup/memory/memory.limit_in_bytes")},
		{name: "-m below 6MB", flags: []string{"-m", "1m"}, cmd: sh("true")},
		{name: "--cpus beyond the node", flags: []string{"--cpus", "4096"}, cmd: sh("true")},
		{name: "--cpus with --cpu-quota", flags: []string{"--cpus", "1", "--cpu-quota", "50000"}, cmd: sh("true")},
		{name: "--cpu-period out of range", flags: []string{"--cpu-period", "100"}, cmd: sh("true")},
		{name: "--pids-limit 0", flags: []string{"--pids-limit", "0"}, cmd: sh("cat /sys/fs/cgroup/pids/pids.max")},
		{name: "--pids-limit reached", flags: []string{"--pids-limit", "3"}, cmd: sh("for i in 1 2 3 4; do sleep 1 & done 2>/dev/null; wait; echo done")},
		{name: "--oom-score-adj out of range", flags: []string{"--oom-score-adj", "2000"}, cmd: sh("true")},
		{name: "--cpuset-cpus bad", flags: []string{"--cpuset-cpus", "x"}, cmd: sh("true")},
	}},
	{"network and names", []scenario{
		{name: "--network none: hosts", flags: []string{"--network", "none"}, cmd: sh("cat /etc/hosts | grep -v \"$(hostname)\"")},
		{name: "--network none: interfaces", flags: []string{"--network", "none"}, cmd: sh("ls /sys/class/net")},
		{name: "--network host: hostname", flags: []string{"--network", "host"}, cmd: sh("hostname")},
		{name: "-h with --network none", flags: []string{"--network", "none", "-h", "node7"}, cmd: sh("hostname; cat /etc/hostname")},
		{name: "--add-host", flags: []string{"--network", "none", "--add-host", "db:10.0.0.1"}, cmd: sh("tail -1 /etc/hosts")},
		{name: "--add-host IPv6", flags: []string{"--network", "none", "--add-host", "h6:[::1]"}, cmd: sh("tail -1 /etc/hosts"),
			why: "docker's client before 25 takes no bracketed IPv6 address; later ones do, as dockless (--add-host row)"},
		{name: "--dns-search .", flags: []string{"--network", "none", "--dns", "10.0.0.2", "--dns-search", "."}, cmd: sh("grep -v '^#' /etc/resolv.conf | grep -v '^$'")},
		{name: "--dns not an address", flags: []string{"--dns", "resolver"}, cmd: sh("true")},
		{name: "-p with --network none", flags: []string{"--network", "none", "-p", "8080:80"}, cmd: sh("true")},
		{name: "--network bridge", flags: []string{"--network", "bridge"}, cmd: sh("true"), why: "refused: no bridge networking (--network row); dockerd here runs --bridge=none"},
		{name: "--ipc private", flags: []string{"--ipc", "private"}, cmd: sh("true")},
		{name: "-h with the host network", flags: []string{"-h", "node7"}, cmd: sh("hostname")},
		{name: "--add-host host-gateway", flags: []string{"--network", "none", "--add-host", "gw:host-gateway"}, cmd: sh("grep gw /etc/hosts"),
			why: "host-gateway is 127.0.0.1: with the host network the node is the container's loopback (--add-host row); dockerd without a bridge has no gateway"},
		{name: "--dns --dns-search --dns-option", flags: []string{"--network", "none", "--dns", "10.0.0.2", "--dns-search", "example.com", "--dns-option", "ndots:2"},
			cmd: sh("grep -v '^#' /etc/resolv.conf | grep -v '^$'")},
		{name: "--dns with the host network", flags: []string{"--dns", "10.0.0.2"}, cmd: sh("grep nameserver /etc/resolv.conf")},
		{name: "-p with the host network", flags: []string{"-p", "8080:80"}, cmd: sh("true")},
		{name: "--ipc shareable", flags: []string{"--ipc", "shareable"}, cmd: sh("true")},
		{name: "--ipc host", flags: []string{"--ipc", "host"}, cmd: sh("grep -c ' /dev/shm ' /proc/mounts")},
	}},
	{"security", []scenario{
		{name: "default capabilities", cmd: sh("grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status")},
		{name: "--cap-drop ALL", flags: []string{"--cap-drop", "ALL"}, cmd: sh("grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status")},
		{name: "--cap-add", flags: []string{"--cap-add", "SYS_ADMIN"}, cmd: sh("grep CapEff /proc/self/status")},
		{name: "--cap-add ALL", flags: []string{"--cap-add", "ALL"}, cmd: sh("grep CapEff /proc/self/status")},
		{name: "--cap-add unknown", flags: []string{"--cap-add", "WIZARD"}, cmd: sh("true")},
		{name: "apparmor=PROFILE", flags: []string{"--security-opt", "apparmor=docker-default"}, cmd: sh("true"),
			why: "refused: no AppArmor here, a profile asked for would confine nothing (--security-opt rows); dockerd on a node without AppArmor ignores it"},
		{name: "a user's capabilities", flags: []string{"-u", "1000"}, cmd: sh("grep -E '^Cap(Prm|Eff|Bnd)' /proc/self/status")},
		{name: "no-new-privileges", flags: []string{"--security-opt", "no-new-privileges"}, cmd: sh("grep NoNewPrivs /proc/self/status")},
		{name: "seccomp default", cmd: sh("grep '^Seccomp:' /proc/self/status")},
		{name: "seccomp=unconfined", flags: []string{"--security-opt", "seccomp=unconfined"}, cmd: sh("grep '^Seccomp:' /proc/self/status")},
		{name: "apparmor=unconfined", flags: []string{"--security-opt", "apparmor=unconfined"}, cmd: sh("true")},
		{name: "label=disable", flags: []string{"--security-opt", "label=disable"}, cmd: sh("true")},
		{name: "masked /proc/kcore", cmd: sh("wc -c < /proc/kcore")},
		{name: "--privileged", flags: []string{"--privileged"}, cmd: sh("grep CapEff /proc/self/status"),
			why: "refused: every capability and device of the node (--privileged row); docker runs it where it may grant every capability"},
	}},
	{"processes and exit status", []scenario{
		{name: "exit status", cmd: sh("exit 3")},
		{name: "killed by a signal", cmd: sh("kill -9 $$")},
		{name: "command not found", cmd: []string{"no-such-command"}},
		{name: "not executable", cmd: []string{"/etc/passwd"}},
		{name: "a directory", cmd: []string{"/etc"}},
		{name: "PID 1", cmd: sh("cat /proc/1/comm")},
		{name: "--init", flags: []string{"--init"}, cmd: sh("cat /proc/1/cmdline | tr '\\0' ' '; echo; grep -E '^(Threads|PPid)' /proc/1/status; exit 5")},
		{name: "--init reaps orphans", flags: []string{"--init"}, cmd: sh("sh -c 'sleep 0.1 &'; sleep 0.5; ps -o stat | grep -c '^Z'")},
		{name: "--init command not found", flags: []string{"--init"}, cmd: []string{"no-such-command"}},
		{name: "--init signal", flags: []string{"--init"}, cmd: sh("kill -TERM $$")},
		{name: "--init -t", flags: []string{"--init", "-t"}, cmd: sh("tty; echo hi")},
		{name: "--init not executable", flags: []string{"--init"}, cmd: []string{"/etc/passwd"}},
		{name: "-t", flags: []string{"-t"}, cmd: sh("echo hi")},
		{name: "-it without a terminal", flags: []string{"-it"}, cmd: sh("true")},
		{name: "-i", flags: []string{"-i"}, cmd: sh("cat; echo read")},
		{name: "stdin without -i", cmd: sh("cat; echo read")},
		{name: "--stop-signal --stop-timeout --label", flags: []string{"--stop-signal", "USR1", "--stop-timeout", "3", "-l", "a=b"}, cmd: sh("true")},
		{name: "--pull never, a digest of the cached tag", flags: []string{"--pull", "never"}, image: "digest", cmd: sh("true")},
		{name: "--pull never, not cached", flags: []string{"--pull", "never"}, image: "missing", cmd: sh("true")},
		{name: "no image", image: "none"},
	}},
}

// scenarios runs the table and prints it as markdown; it returns how many
// scenarios differ without a documented reason.
func (e *engines) scenarios() int {
	images := e.scenarioImages()
	dir := filepath.Join(e.work, "bound")
	must(os.MkdirAll(dir, 0o755), "the bound directory")
	must(os.WriteFile(filepath.Join(dir, "f"), []byte("bound\n"), 0o644), "the bound file")
	must(os.WriteFile(filepath.Join(e.work, "envfile"), []byte("FROM_IMAGE\nA=1\n"), 0o644), "the env file")
	fmt.Printf("## `docker run` scenarios: dockerd %s vs dockless\n\n", e.dockerVersion())
	fmt.Println("| scenario | flags | result |")
	fmt.Println("|---|---|---|")
	var same, documented, findings int
	for _, g := range groups {
		for _, s := range g.list {
			flags := expand(s.flags, dir)
			// dockless first: docker creates a missing bind source.
			l := e.runDockless(flags, images[s.image], s.cmd)
			d := e.runDocker(flags, images[s.image], s.cmd)
			result := "same"
			switch {
			case d == l && s.why != "":
				result = "same here (elsewhere: " + s.why + ")"
				same++
			case d == l:
				same++
			case s.why != "":
				result = "differs, documented: " + s.why
				documented++
			default:
				result = fmt.Sprintf("**differs**: docker %s; dockless %s", d, l)
				findings++
			}
			fmt.Printf("| %s: %s | `%s` | %s |\n", g.title, s.name, strings.Join(quoteAll(s.flags), " "), result)
		}
	}
	fmt.Printf("\n%d scenarios: %d behave the same, %d differ as documented, %d differ without a documented reason\n",
		same+documented+findings, same, documented, findings)
	return findings
}

// scenarioImages pushes the images to the registry and pulls each into
// dockerd by tag; both engines then run the same digests. It returns the
// reference of each image a scenario names.
func (e *engines) scenarioImages() map[string]string {
	plain, err := testimage.Busybox(testimage.Options{})
	must(err, "building the image")
	vol, err := testimage.Busybox(testimage.Options{Volumes: []string{"/data"}, Env: []string{"FROM_IMAGE=image"},
		Extra: []testimage.File{{Name: "data", Dir: true, Mode: 0o755}, {Name: "data/seed", Mode: 0o644, Body: []byte("seeded\n")}}})
	must(err, "building the volume image")
	refs := map[string]string{}
	for key, img := range map[string]*imageRef{"": {"scenario/busybox:1", plain}, "vol": {"scenario/volumes:1", vol}} {
		ref, err := e.reg.Push(img.tag, img.image)
		must(err, "pushing "+img.tag)
		if out, err := e.dockerCmd("pull", "-q", ref).CombinedOutput(); err != nil {
			fatalf("docker pull %s: %v %s", ref, err, out)
		}
		if out, err := e.docklessCmd("pull", "-q", ref).CombinedOutput(); err != nil {
			fatalf("dockless pull %s: %v %s", ref, err, out)
		}
		refs[key] = ref
	}
	d, _ := plain.Digest()
	refs["digest"] = strings.TrimSuffix(refs[""], ":1") + "@" + d.String()
	refs["missing"] = e.reg.Addr + "/scenario/missing:1"
	return refs
}

// outcome is what one engine did: exit status and standard output.
type outcome struct {
	code int
	out  string
}

func (o outcome) String() string { return fmt.Sprintf("exit %d %q", o.code, o.out) }

func (e *engines) runDocker(flags []string, image string, cmd []string) outcome {
	args := []string{"run", "--rm"}
	if !slices.ContainsFunc(flags, func(f string) bool { return f == "--network" || f == "--net" }) {
		args = append(args, "--network", "host")
	}
	return e.run(e.dockerCmd(runArgs(args, flags, image, cmd)...))
}

func (e *engines) runDockless(flags []string, image string, cmd []string) outcome {
	return e.run(e.docklessCmd(runArgs([]string{"run", "--rm", "-q"}, flags, image, cmd)...))
}

// runArgs is run's command line; no image: none at all (the flags and the
// command need one).
func runArgs(base, flags []string, image string, cmd []string) []string {
	if image == "" {
		return []string{"run"}
	}
	return append(append(append(base, flags...), image), cmd...)
}

// run runs c in the work directory with stdin /dev/null and DIFF_SET in
// its environment.
func (e *engines) run(c *exec.Cmd) outcome {
	var out bytes.Buffer
	c.Dir, c.Stdout = e.work, &out
	c.Env = append(c.Environ(), "DIFF_SET=from the caller")
	err := c.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fatalf("%v: %v", c.Args, err)
	}
	return outcome{code: c.ProcessState.ExitCode(), out: out.String()}
}

type imageRef struct {
	tag   string
	image v1.Image
}

func expand(flags []string, dir string) []string {
	out := make([]string, len(flags))
	for i, f := range flags {
		out[i] = strings.ReplaceAll(f, "$D", dir)
	}
	return out
}

func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w
		if w == "" || strings.ContainsAny(w, " '\"") {
			out[i] = "'" + w + "'"
		}
	}
	return out
}
