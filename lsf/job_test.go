package lsf

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var update = flag.Bool("update", false, "rewrite golden files")

// seedCaller is the seed's user.
func seedCaller() *policy.Caller {
	return &policy.Caller{UID: 1416339, GID: 1000070, Groups: []uint32{1000070, 1183521, 1262589}, Name: "joe.user", Home: "/home/joe.user"}
}

// seedJob is the seed's job on the seed's site (the default policy) with
// env over the seed's environment.
func seedJob(env map[string]string, args []string) (*Job, error) {
	e := seedEnv()
	for k, v := range env {
		e[k] = v
	}
	return FromEnv(e, args, policy.Default(), seedCaller(), seedHost())
}

// seedHost has everything the seed's node has: the InfiniBand devices,
// sssd.
func seedHost() Host {
	minor := int64(0)
	return Host{
		Hostname: "compute1-exec-203.ris.wustl.edu", Cwd: "/home/joe.user", Pid: 337938,
		Exists: func(string) bool { return true },
		Device: func(p string) (spec.Device, error) {
			minor++
			return spec.Device{Path: p, HostPath: p, Type: "c", Major: 231, Minor: minor, FileMode: 0o600, Permissions: "rwm"}, nil
		},
	}
}

func seedEnv() map[string]string {
	return map[string]string{
		"LSB_JOBID": "23870", "LSB_JOBINDEX": "0", "LSB_CONTAINER_IMAGE": "alpine",
		"HOME": "/home/joe.user", "USER": "joe.user", "PATH": "/usr/local/bin:/usr/bin:/opt/ibm/lsfsuite/lsf/10.1/linux3.10-glibc2.17-x86_64/bin",
		"LSF_BINDIR": "/opt/ibm/lsfsuite/lsf/10.1/linux3.10-glibc2.17-x86_64/bin", "TMPDIR": "/tmp/23870.tmpdir",
		"LSB_QUEUE": "general-interactive", "LSB_INTERACTIVE": "Y", "HOSTNAME": "compute1-client-1",
	}
}

// TestLSFJob_SeedGoldenConfig pins the config.json of the seed's job: the
// user and groups, the mounts, the SELinux label, the capabilities,
// no-new-privileges, the InfiniBand devices, the limits, the environment.
// It is made by the real lifecycle (container.Node.Run's spec-only mode),
// on a node with SELinux, from an image the store hands over.
func TestLSFJob_SeedGoldenConfig(t *testing.T) {
	job, err := seedJob(nil, []string{"/home/joe.user/.lsbatch/1580953421.23870"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range job.Sources {
		job.Req.Mounts = append(job.Req.Mounts, s.Bind)
	}
	got := specOnly(t, job, ocispec.ImageConfig{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, Cmd: []string{"/bin/sh"}})
	golden := filepath.Join("testdata", "seed-job.config.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test ./lsf -run SeedGolden -args -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("config.json of the seed job changed; diff against %s (go test ./lsf -run SeedGolden -args -update accepts it):\n%s", golden, got)
	}
	// The rules, one by one, so a changed golden file is read with them.
	var cfg struct {
		Process struct {
			User struct {
				UID, GID       uint32
				AdditionalGids []uint32
			}
			Env             []string
			Cwd             string
			NoNewPrivileges bool
			SelinuxLabel    string
		}
		Hostname string
	}
	if err := json.Unmarshal(want, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Process.User.UID != 1416339 || cfg.Process.User.GID != 1000070 || !slices.Equal(cfg.Process.User.AdditionalGids, []uint32{1000070, 1183521, 1262589}) {
		t.Errorf("user: %+v", cfg.Process.User)
	}
	if cfg.Process.SelinuxLabel != "user_u:user_r:user_t:s0" || !cfg.Process.NoNewPrivileges || cfg.Process.Cwd != "/home/joe.user" || cfg.Hostname != "compute1-exec-203.ris.wustl.edu" {
		t.Errorf("label, no-new-privileges, cwd, hostname: %+v %s", cfg.Process, cfg.Hostname)
	}
	env := strings.Join(cfg.Process.Env, "\n")
	for _, want := range []string{"HOSTNAME=compute1-exec-203.ris.wustl.edu", "LSF_NIOS_JOBSTATUS_INTERVAL=1",
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/ibm/lsfsuite/lsf/10.1/linux3.10-glibc2.17-x86_64/bin"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s", want)
		}
	}
	if strings.Contains(env, "LSB_INTERACTIVE") || strings.Contains(env, "compute1-client-1") {
		t.Errorf("LSB_INTERACTIVE and the submission HOSTNAME must not pass:\n%s", env)
	}
}

func TestLSFJob_WrapperVariables(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		args  []string
		check func(*Job) bool
		err   string
	}{
		{"job file runs under /bin/sh whatever the ENTRYPOINT", nil, []string{"/home/joe.user/.lsbatch/1.23870"}, func(j *Job) bool {
			return j.Req.EntrypointSet && slices.Equal(j.Req.Cmd, []string{"/bin/sh", "/home/joe.user/.lsbatch/1.23870"}) && j.JobFile != ""
		}, ""},
		{"a command line runs through sh -c", nil, []string{"date", "-u"}, func(j *Job) bool {
			return slices.Equal(j.Req.Cmd, []string{"/bin/sh", "-c", "date -u"})
		}, ""},
		{"placeholder keeps the image command", nil, []string{PlaceHolder}, func(j *Job) bool {
			return !j.Req.EntrypointSet && j.Req.Cmd == nil
		}, ""},
		{"LSF_DOCKER_ENTRYPOINT", map[string]string{"LSF_DOCKER_ENTRYPOINT": "/usr/bin/python3"}, []string{"job.py"}, func(j *Job) bool {
			return slices.Equal(j.Req.Entrypoint, []string{"/usr/bin/python3"}) && slices.Equal(j.Req.Cmd, []string{"job.py"})
		}, ""},
		{"LSF_DOCKER_WORKDIR", map[string]string{"LSF_DOCKER_WORKDIR": "/work"}, []string{"x"}, func(j *Job) bool { return j.Req.Workdir == "/work" }, ""},
		{"network, ipc and shm", map[string]string{"LSF_DOCKER_NETWORK": "none", "LSF_DOCKER_IPC": "host", "LSF_DOCKER_SHM_SIZE": "20G"}, []string{"x"}, func(j *Job) bool {
			return j.Req.Network == "none" && j.Req.IPC == "host" && j.Req.ShmSize == 20<<30
		}, ""},
		{"volumes checked against the prefixes", map[string]string{"LSF_DOCKER_VOLUMES": "/storage1/lab:/lab /scratch1/me:/scratch1/me:ro"}, []string{"x"}, func(j *Job) bool {
			var vols []Source
			for _, s := range j.Sources {
				if s.What == "volume" {
					vols = append(vols, s)
				}
			}
			return len(vols) == 2 && vols[1].Bind.ReadOnly && vols[0].VolumeRules && vols[1].VolumeRules && vols[0].Bind.User
		}, ""},
		{"preserve false keeps a minimal set", map[string]string{"LSF_DOCKER_PRESERVE_ENVIRONMENT": "false", "SECRET_TOKEN": "x"}, []string{"x"}, func(j *Job) bool {
			env := strings.Join(j.Req.Env, " ")
			return !strings.Contains(env, "SECRET_TOKEN") && strings.Contains(env, "LSB_JOBID=23870") && strings.Contains(env, "HOME=/home/joe.user")
		}, ""},
		{"array job tmpdir", map[string]string{"LSB_JOBINDEX": "4", "TMPDIR": "/tmp/23870_4.tmpdir"}, []string{"x"}, func(j *Job) bool {
			return slices.ContainsFunc(j.Sources, func(s Source) bool { return s.Bind.Destination == "/tmp" && s.Bind.Source == "/tmp/23870_4.tmpdir" })
		}, ""},
		{"add-host", map[string]string{"LSF_DOCKER_ADD_HOST": "db:10.0.0.1 web:10.0.0.2"}, []string{"x"}, func(j *Job) bool { return len(j.Req.AddHosts) == 2 }, ""},
		{"no image", map[string]string{"LSB_CONTAINER_IMAGE": ""}, []string{"x"}, nil, "LSB_CONTAINER_IMAGE is not set"},
		{"not an LSF job", map[string]string{"LSB_JOBID": ""}, []string{"x"}, nil, "LSB_JOBID is not set"},
		{"no command", nil, nil, nil, "no job command"},
		{"bridge network", map[string]string{"LSF_DOCKER_NETWORK": "bridge"}, []string{"x"}, nil, "not supported"},
		{"bad shm size", map[string]string{"LSF_DOCKER_SHM_SIZE": "lots"}, []string{"x"}, nil, "LSF_DOCKER_SHM_SIZE"},
		{"ports outside the range", map[string]string{"LSF_DOCKER_PORTS": "7999:80"}, []string{"x"}, nil, "outside 8000-8999"},
		{"bad ports", map[string]string{"LSF_DOCKER_PORTS": "http"}, []string{"x"}, nil, "not a docker port mapping"},
		{"ports in range still need a bridge", map[string]string{"LSF_DOCKER_PORTS": "8001:80/tcp", "LSF_DOCKER_NETWORK": "none"}, []string{"x"}, nil, "bridge network"},
		{"cgroup from an untrusted caller", map[string]string{"LSF_DOCKER_CGROUP": "/lsf/job"}, []string{"x"}, nil, "[callers] trusted"},
		{"bad log level", map[string]string{"LSF_DOCKER_RUN_LOGLEVEL": "LOUD"}, []string{"x"}, nil, "LSF_DOCKER_RUN_LOGLEVEL"},
		{"bad preserve value", map[string]string{"LSF_DOCKER_PRESERVE_ENVIRONMENT": "maybe"}, []string{"x"}, nil, "true or false"},
		{"relative entrypoint", map[string]string{"LSF_DOCKER_ENTRYPOINT": "python"}, []string{"x"}, nil, "absolute"},
		{"volume option", map[string]string{"LSF_DOCKER_VOLUMES": "/storage1/a:/a:shared"}, []string{"x"}, nil, "not supported"},
		{"a volume as docker's -v reads it", map[string]string{"LSF_DOCKER_VOLUMES": "/storage1/a:/a:ro,z"}, []string{"x"}, func(j *Job) bool {
			return j.Sources[len(j.Sources)-1].Bind == spec.Bind{Source: "/storage1/a", Destination: "/a", ReadOnly: true, User: true}
		}, ""},
		{"a lone volume source is bound at its own path", map[string]string{"LSF_DOCKER_VOLUMES": "/storage1/a/"}, []string{"x"}, func(j *Job) bool {
			return j.Sources[len(j.Sources)-1].Bind == spec.Bind{Source: "/storage1/a/", Destination: "/storage1/a", User: true}
		}, ""},
		{"a relative volume source is the job's working directory's, as docker's -v takes it", map[string]string{"LSF_DOCKER_VOLUMES": "./data:/data"}, []string{"x"}, func(j *Job) bool {
			return j.Sources[len(j.Sources)-1].Bind == spec.Bind{Source: "/home/joe.user/data", Destination: "/data", User: true}
		}, ""},
		{"SRC:ro is bound read-only at its own path", map[string]string{"LSF_DOCKER_VOLUMES": "/storage1/a:ro"}, []string{"x"}, func(j *Job) bool {
			return j.Sources[len(j.Sources)-1].Bind == spec.Bind{Source: "/storage1/a", Destination: "/storage1/a", ReadOnly: true, User: true}
		}, ""},
		{"raw args run the image's entrypoint with them", map[string]string{"LSF_DOCKER_RUN_RAW_ARGS": "1"}, []string{"-v", "x"}, func(j *Job) bool {
			return !j.Req.EntrypointSet && slices.Equal(j.Req.Cmd, []string{"-v", "x"}) && j.JobFile == ""
		}, ""},
		{"raw args without arguments keep the image command", map[string]string{"LSF_DOCKER_RUN_RAW_ARGS": "1"}, nil, func(j *Job) bool {
			return !j.Req.EntrypointSet && j.Req.Cmd == nil
		}, ""},
		{"the job tmpdir from LSB_JOB_TMPDIR", map[string]string{"TMPDIR": "/tmp", "LSB_JOB_TMPDIR": "/scratch/lsf"}, []string{"x"}, func(j *Job) bool {
			return slices.ContainsFunc(j.Sources, func(s Source) bool {
				return s.Bind.Destination == "/tmp" && s.Bind.Source == "/scratch/lsf/23870.tmpdir" && s.Owned
			})
		}, ""},
		{"env and add-host files are recorded to be read as the user", map[string]string{"LSF_DOCKER_ENV_FILE": "/a/env /b/env", "LSF_DOCKER_ADD_HOST_FILE": "/a/hosts"}, []string{"x"}, func(j *Job) bool {
			return slices.Equal(j.EnvFiles, []string{"/a/env", "/b/env"}) && slices.Equal(j.HostFiles, []string{"/a/hosts"})
		}, ""},
		{"relative LSF_DOCKER_WORKDIR", map[string]string{"LSF_DOCKER_WORKDIR": "work"}, []string{"x"}, nil, "absolute path"},
		{"relative LSF_DOCKER_CGROUP", map[string]string{"LSF_DOCKER_CGROUP": "lsf"}, []string{"x"}, nil, "[callers] trusted"},
		{"bad add-host", map[string]string{"LSF_DOCKER_ADD_HOST": "db:not-an-ip"}, []string{"x"}, nil, "valid IP"},
		{"the job user with their groups, fixed", nil, []string{"x"}, func(j *Job) bool {
			return j.Req.FixedUser && j.Req.SiteJob && j.Req.User.UID == 1416339 && slices.Equal(j.Req.User.AdditionalGids, []uint32{1000070, 1183521, 1262589})
		}, ""},
		{"the container is named for the job and the starter", nil, []string{"x"}, func(j *Job) bool { return j.Name == "lsf_23870_337938" }, ""},
		{"login only", map[string]string{"LSB_DOCKER_LOGIN_ONLY": "1", "LSB_DOCKER_LOGIN_SERVER": "registry.example.org"}, []string{"x"}, func(j *Job) bool {
			return j.LoginOnly && j.LoginServer == "registry.example.org"
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job, err := seedJob(tc.env, tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil || !tc.check(job) {
				t.Fatalf("got %+v %+v (%v)", job, job.Req, err)
			}
		})
	}
}

// FuzzLSFValues: the LSF front end's own readings of the wrapper
// variables refuse with an error or return well-formed values; none panics.
func FuzzLSFValues(f *testing.F) {
	for _, s := range []string{"/a:/b:ro", "/a", "8001:80/tcp", "8000-8010:80-90", ":::", "/s:/d:z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if b, err := parseVolume(in, "/cwd"); err == nil && (!strings.HasPrefix(b.Source, "/") || !strings.HasPrefix(b.Destination, "/")) {
			t.Fatalf("LSF_DOCKER_VOLUMES %q gave a relative path", in)
		}
		if err := checkPorts(in, "none"); err == nil {
			t.Fatalf("LSF_DOCKER_PORTS %q was accepted: ports are always refused", in)
		}
	})
}

func TestPasswdFiles_NameTheUserAndGroups(t *testing.T) {
	passwd, group := PasswdFiles(&policy.Caller{UID: 1000, GID: 1000, Name: "alice", Home: "/home/alice"}, []uint32{1000, 2000})
	if string(passwd) != "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:alice:/home/alice:/bin/sh\n" {
		t.Errorf("passwd: %q", passwd)
	}
	if !strings.HasPrefix(string(group), "root:x:0:\n") || strings.Count(string(group), ":alice\n") != 2 {
		t.Errorf("group: %q", group)
	}
}
