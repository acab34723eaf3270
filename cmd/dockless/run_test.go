package main

import (
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

// parseRun parses `dockless run ARGS` into a request without running it.
func parseRun(args ...string) (*spec.Request, error) {
	a := &app{caller: &policy.Caller{}, log: newLogger(io.Discard)}
	app := a.cli()
	var req *spec.Request
	for _, c := range app.Commands {
		if c.Name == "run" {
			c.Action = func(c *cli.Context) error {
				if err := refuseUnsupported(c); err != nil {
					return err
				}
				var err error
				req, _, err = a.runFromFlags(c)
				return err
			}
		}
	}
	err := app.Run(splitAttached(app, append([]string{"dockless", "run"}, args...)))
	return req, err
}

func TestRunFlags_DockerSpellings(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		args  []string
		check func(*spec.Request) bool
	}{
		{"-it combines -i and -t", []string{"-it", "img"}, func(r *spec.Request) bool { return r.Tty }},
		{"-h is the hostname, not help", []string{"-h", "node1", "img"}, func(r *spec.Request) bool { return r.Hostname == "node1" }},
		{"-v is a volume, not version", []string{"-v", dir + ":/data:ro", "img"}, func(r *spec.Request) bool {
			return reflect.DeepEqual(r.Mounts, []spec.Bind{{Source: dir, Destination: "/data", ReadOnly: true, User: true}})
		}},
		{"a volume destination is normalised once: /data/ and /data/. are /data", []string{"-v", dir + ":/data/", "--mount", "type=bind,src=" + dir + ",dst=/x/.", "img"}, func(r *spec.Request) bool {
			return len(r.Mounts) == 2 && r.Mounts[0].Destination == "/data" && r.Mounts[1].Destination == "/x"
		}},
		{"flags after the image belong to the command", []string{"img", "ls", "-h", "-v", "--rm"}, func(r *spec.Request) bool {
			return r.Image == "img" && reflect.DeepEqual(r.Cmd, []string{"ls", "-h", "-v", "--rm"}) && r.Hostname == ""
		}},
		{"commas stay inside -e values", []string{"-e", "LIST=a,b,c", "img"}, func(r *spec.Request) bool {
			return reflect.DeepEqual(r.Env, []string{"LIST=a,b,c"})
		}},
		{"--memory-swap -1 is unlimited", []string{"-m", "4096m", "--memory-swap", "-1", "img"}, func(r *spec.Request) bool {
			return r.Memory == 4096<<20 && r.MemorySwap == -1
		}},
		{"--ulimit memlock=-1 is unlimited", []string{"--ulimit", "memlock=-1", "img"}, func(r *spec.Request) bool {
			return reflect.DeepEqual(r.Rlimits, []specs.POSIXRlimit{{Type: "RLIMIT_MEMLOCK", Soft: ^uint64(0), Hard: ^uint64(0)}})
		}},
		{"--entrypoint '' clears the entrypoint", []string{"--entrypoint", "", "img"}, func(r *spec.Request) bool {
			return r.EntrypointSet && r.Entrypoint == nil
		}},
		{"the default network is the host's", []string{"img"}, func(r *spec.Request) bool { return r.Network == "host" }},
		{"--mount type=bind", []string{"--mount", "type=bind,source=" + dir + ",target=/etc/passwd", "img"}, func(r *spec.Request) bool {
			return len(r.Mounts) == 1 && r.Mounts[0].Destination == "/etc/passwd" && !r.Mounts[0].ReadOnly
		}},
		{"security options", []string{"--security-opt", "label=type:user_t", "--security-opt=no-new-privileges", "img"}, func(r *spec.Request) bool {
			return r.NoNewPrivileges && r.SELinuxLabel == "system_u:system_r:user_t:s0"
		}},
		{"add-host with IPv6", []string{"--add-host", "h6:[::1]", "img"}, func(r *spec.Request) bool {
			return reflect.DeepEqual(r.AddHosts, []spec.HostEntry{{Host: "h6", IP: "::1"}})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parseRun(tc.args...)
			if err != nil || !tc.check(req) {
				t.Fatalf("%v: got %+v (%v)", tc.args, req, err)
			}
		})
	}
}

func TestRunFlags_SeedLineParses(t *testing.T) {
	dir := t.TempDir()
	// The seed's docker run line with this machine's paths: no GPU,
	// InfiniBand or sssd here, so /dev/null stands in for the devices.
	args := strings.Fields(`--cidfile ` + dir + `/cid -u 1416339:1000070 -v ` + dir + `:/opt/ibm/lsfsuite/lsf
		-w /home/joe.user/ --rm -h compute1-exec-203 --name=lsf_23870_337938
		--mount type=bind,source=` + dir + `,target=/etc/passwd --group-add 1000070 --group-add 1183521
		--security-opt label=user:user_u --security-opt label=role:user_r --security-opt label=type:user_t
		--security-opt label=level:s0 --sig-proxy=false -i -t -e LSF_NIOS_JOBSTATUS_INTERVAL=1
		--cpu-shares 2 -m 4096m --memory-swap -1 --cap-drop=all --cap-add=chown --cap-add=kill
		--cap-add=setpcap --security-opt=no-new-privileges --cap-add=IPC_LOCK --cap-add=CAP_SYS_NICE
		--device=/dev/null --ulimit memlock=-1 alpine /home/joe.user/.lsbatch/1580953421.23870`)
	req, err := parseRun(args...)
	if err != nil {
		t.Fatal(err)
	}
	if req.UserSpec != "1416339:1000070" || !reflect.DeepEqual(req.GroupAdd, []string{"1000070", "1183521"}) ||
		req.CPUShares != 2 || req.Memory != 4096<<20 || req.MemorySwap != -1 || !req.NoNewPrivileges ||
		req.SELinuxLabel != "user_u:user_r:user_t:s0" || len(req.Devices) != 1 || !req.Tty ||
		!reflect.DeepEqual(req.CapAdd, []string{"chown", "kill", "setpcap", "IPC_LOCK", "CAP_SYS_NICE"}) ||
		!reflect.DeepEqual(req.Cmd, []string{"/home/joe.user/.lsbatch/1580953421.23870"}) {
		t.Fatalf("seed line: %+v", req)
	}
}

func TestRunFlags_RefusalsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-v", "/x:/data:nocopy", "img"},
		{"-p", "http", "img"},
		{"--security-opt", "apparmor=docker-default", "img"},
		{"-v", "/x:/data:shared", "img"},
		{"--tmpfs", "/x", "-v", "/y:/x", "img"},
		{"--cpus", "lots", "img"},
		{"--cpuset-cpus", "3-1", "img"},
		{"--oom-score-adj", "-1001", "img"},
		{"--dns", "resolver.example", "img"},
		{"--dns-search", "bad domain", "img"},
		{"--stop-signal", "NOPE", "img"},
		{"--label", "=x", "img"},
		{"-d", "img"},
		{"--privileged", "img"},
		{"--network", "bridge", "img"},
		{"--pull", "sometimes", "img"},
		{"-w", "relative", "img"},
		{"--mount", "type=volume,target=/x", "img"},
		{"--security-opt", "apparmor=x", "img"},
		{"-e", "BAD KEY=1", "img"},
		{"--shm-size", "-1", "img"},
		{"-v", "/x:data", "img"},
		{"-v", "/x:/", "img"},
		{"-v", "/x:/data/..", "img"},
		{"-v", "/x:/data", "-v", "/y:/data/", "img"},
		{"-v", "/x:/data", "--mount", "type=bind,src=/y,dst=/data/.", "img"},
	} {
		_, err := parseRun(args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: want a usage error, got %v", args, err)
		}
	}
}

// docker's parser takes a value attached to its short flag, and so does
// dockless's, for run and exec.
func TestRunFlags_AttachedShortFlagValues(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		args  []string
		check func(*spec.Request) bool
	}{
		{"-eK=V", []string{"-eK=V", "img"}, func(r *spec.Request) bool { return reflect.DeepEqual(r.Env, []string{"K=V"}) }},
		{"-e=K=V", []string{"-e=K=V", "img"}, func(r *spec.Request) bool { return reflect.DeepEqual(r.Env, []string{"K=V"}) }},
		{"-ualice", []string{"-ualice", "img"}, func(r *spec.Request) bool { return r.UserSpec == "alice" }},
		{"-m64m", []string{"-m64m", "img"}, func(r *spec.Request) bool { return r.Memory == 64<<20 }},
		{"-c512", []string{"-c512", "img"}, func(r *spec.Request) bool { return r.CPUShares == 512 }},
		{"-v/a:/b", []string{"-v" + dir + ":/b", "img"}, func(r *spec.Request) bool {
			return len(r.Mounts) == 1 && r.Mounts[0].Source == dir && r.Mounts[0].Destination == "/b"
		}},
		{"-w/tmp", []string{"-w/tmp", "img"}, func(r *spec.Request) bool { return r.Workdir == "/tmp" }},
		{"-hnode1", []string{"-hnode1", "img"}, func(r *spec.Request) bool { return r.Hostname == "node1" }},
		{"-lk=v", []string{"-lk=v", "img"}, func(r *spec.Request) bool { return r.Labels["k"] == "v" }},
		{"booleans then a value: -ite K=V", []string{"-ite", "K=V", "img"}, func(r *spec.Request) bool {
			return r.Tty && reflect.DeepEqual(r.Env, []string{"K=V"})
		}},
		{"booleans then an attached value: -iteK=V", []string{"-iteK=V", "img"}, func(r *spec.Request) bool {
			return r.Tty && reflect.DeepEqual(r.Env, []string{"K=V"})
		}},
		{"a value that looks like a flag stays a value", []string{"-e", "-uroot", "img"}, func(r *spec.Request) bool {
			return reflect.DeepEqual(r.Env, []string{"-uroot"}) && r.UserSpec == ""
		}},
		{"after the image, the command's own words", []string{"img", "-eK=V", "-m64m"}, func(r *spec.Request) bool {
			return reflect.DeepEqual(r.Cmd, []string{"-eK=V", "-m64m"}) && r.Env == nil && r.Memory == 0
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parseRun(tc.args...)
			if err != nil || !tc.check(req) {
				t.Fatalf("%v: got %+v (%v)", tc.args, req, err)
			}
		})
	}
}

func TestSplitAttached_GlobalFlagsAndExec(t *testing.T) {
	app := newApp(nil, nil, io.Discard)
	for _, tc := range []struct{ in, want string }{
		{"dockless --root /r --debug run -m64m img", "dockless --root /r --debug run --memory 64m img"},
		{"dockless --state=/s exec -eK=V -uroot c1 env", "dockless --state=/s exec --env K=V --user root c1 env"},
		{"dockless exec -it c1 sh -eK=V", "dockless exec --interactive --tty c1 sh -eK=V"},
		{"dockless run --name x -v/a:/b --net=none img", "dockless run --name x --volume /a:/b --network=none img"},
		{"dockless run -- img -eK=V", "dockless run -- img -eK=V"},
		{"dockless kill -sKILL c1", "dockless kill -sKILL c1"},
		{"dockless run -zK img", "dockless run -zK img"},
	} {
		if got := strings.Join(splitAttached(app, strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// -e KEY without KEY in the caller's environment stays bare: it removes
// the image's KEY, as docker's does.
func TestRunFlags_BareEnvKeyUnsetInTheCallerStaysBare(t *testing.T) {
	a := &app{caller: &policy.Caller{Env: map[string]string{"SET": "yes"}}, log: newLogger(io.Discard)}
	app := a.cli()
	var env []string
	for _, c := range app.Commands {
		if c.Name == "run" {
			c.Action = func(c *cli.Context) error {
				var err error
				env, err = a.envFlags(c)
				return err
			}
		}
	}
	if err := app.Run([]string{"dockless", "run", "-e", "SET", "-e", "UNSET", "-e", "A=1", "img"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"SET=yes", "UNSET", "A=1"}; !reflect.DeepEqual(env, want) {
		t.Fatalf("want %q, got %q", want, env)
	}
}

func TestRunFlags_ParityFlags(t *testing.T) {
	dir := t.TempDir()
	cwd, _ := os.Getwd()
	for _, tc := range []struct {
		name  string
		args  []string
		check func(*spec.Request) bool
	}{
		{"--init", []string{"--init", "img"}, func(r *spec.Request) bool { return r.Init }},
		{"--tmpfs", []string{"--tmpfs", "/run:size=1m", "--mount", "type=tmpfs,dst=/t", "img"}, func(r *spec.Request) bool {
			return reflect.DeepEqual(r.Tmpfs, []spec.Tmpfs{{Destination: "/t"}, {Destination: "/run", Options: []string{"size=1m"}}})
		}},
		{"--cpus", []string{"--cpus", "1.5", "img"}, func(r *spec.Request) bool { return r.NanoCPUs == 1_500_000_000 }},
		{"--cpu-quota and --cpu-period", []string{"--cpu-quota", "50000", "--cpu-period", "100000", "img"}, func(r *spec.Request) bool {
			return r.CPUQuota == 50000 && r.CPUPeriod == 100000
		}},
		{"--cpuset-cpus and --cpuset-mems", []string{"--cpuset-cpus", "0-1", "--cpuset-mems", "0", "img"}, func(r *spec.Request) bool {
			return r.CpusetCpus == "0-1" && r.CpusetMems == "0"
		}},
		{"--pids-limit", []string{"--pids-limit", "32", "img"}, func(r *spec.Request) bool { return r.PidsLimit != nil && *r.PidsLimit == 32 }},
		{"no --pids-limit", []string{"img"}, func(r *spec.Request) bool { return r.PidsLimit == nil && r.OOMScoreAdj == nil }},
		{"--oom-score-adj", []string{"--oom-score-adj", "500", "img"}, func(r *spec.Request) bool { return r.OOMScoreAdj != nil && *r.OOMScoreAdj == 500 }},
		{"--label and -l, both spellings of one flag", []string{"--label", "a=1", "-l", "b", "img"}, func(r *spec.Request) bool {
			return reflect.DeepEqual(r.Labels, map[string]string{"a": "1", "b": ""})
		}},
		{"--dns, --dns-search, --dns-option", []string{"--dns", "10.0.0.2", "--dns-search", "example.com", "--dns-option", "ndots:2", "img"}, func(r *spec.Request) bool {
			return reflect.DeepEqual(r.DNS, []string{"10.0.0.2"}) && reflect.DeepEqual(r.DNSSearch, []string{"example.com"}) && reflect.DeepEqual(r.DNSOptions, []string{"ndots:2"})
		}},
		{"--stop-signal and --stop-timeout", []string{"--stop-signal", "USR1", "--stop-timeout", "3", "img"}, func(r *spec.Request) bool {
			return r.StopSignal == 10 && r.StopTimeout != nil && *r.StopTimeout == 3
		}},
		{"--shm-size 0 is the default", []string{"--shm-size", "0", "img"}, func(r *spec.Request) bool { return r.ShmSize == 0 }},
		{"--ipc shareable", []string{"--ipc", "shareable", "img"}, func(r *spec.Request) bool { return r.IPC == "shareable" }},
		{"--add-host host-gateway", []string{"--add-host", "host.docker.internal:host-gateway", "img"}, func(r *spec.Request) bool {
			return reflect.DeepEqual(r.AddHosts, []spec.HostEntry{{Host: "host.docker.internal", IP: spec.HostGateway}})
		}},
		{"--security-opt apparmor=unconfined and label=disable are no-ops", []string{"--security-opt", "apparmor=unconfined", "--security-opt", "label=disable", "img"}, func(r *spec.Request) bool {
			return r.SELinuxLabel == ""
		}},
		{"-p is discarded on the host network", []string{"-p", "8080:80", "img"}, func(r *spec.Request) bool { return r.Network == "host" }},
		{"-v ./SRC is the working directory's", []string{"-v", "./testdata:/d", "img"}, func(r *spec.Request) bool {
			return len(r.Mounts) == 1 && r.Mounts[0].Source == cwd+"/testdata"
		}},
		{"-v docker's no-op options", []string{"-v", dir + ":/d:cached,rprivate", "img"}, func(r *spec.Request) bool { return len(r.Mounts) == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parseRun(tc.args...)
			if err != nil || !tc.check(req) {
				t.Fatalf("%v: got %+v (%v)", tc.args, req, err)
			}
		})
	}
}
