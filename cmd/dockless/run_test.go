package main

import (
	"errors"
	"io"
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
	err := app.Run(append([]string{"dockless", "run"}, args...))
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
		{"-p", "8001:80", "img"},
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
