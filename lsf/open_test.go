package lsf

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dockless/dockless/policy"
	"github.com/dockless/dockless/spec"
	"github.com/sirupsen/logrus"
)

// openFixture is a node's directories for Job.Open and Job.ReadFiles, made
// by root: some the job user (a uid without an account) owns, some root,
// one tree under the only allowed prefix.
type openFixture struct {
	caller                                       *policy.Caller
	pol                                          *policy.Policy
	allowed, outside, mine, myTmp, rootTmp, base string
}

func newOpenFixture(t *testing.T) *openFixture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("opens paths as another user: needs root")
	}
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := &openFixture{
		caller: &policy.Caller{UID: 61501, GID: 61510, Name: "uid61501", Home: filepath.Join(base, "no-home")},
		pol:    policy.Default(),
		base:   base, allowed: filepath.Join(base, "allowed"), outside: filepath.Join(base, "outside"),
		mine: filepath.Join(base, "mine"), myTmp: filepath.Join(base, "1.tmpdir"), rootTmp: filepath.Join(base, "2.tmpdir"),
	}
	f.pol.Volumes.AllowedPrefixes = []string{f.allowed}
	f.pol.Job.Env = []string{"SITE=1"}
	for _, d := range []string{f.allowed, filepath.Join(f.allowed, "vol"), f.outside, f.mine, f.myTmp, f.rootTmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{f.mine, f.myTmp} {
		if err := os.Chown(d, 61501, 61510); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// source is a user's bind of path at dst, as FromEnv records it.
func source(what, path, dst string) Source {
	return Source{What: what, Bind: spec.Bind{Source: path, Destination: dst, User: true}}
}

// Job.Open applies each source's rules as the job user: the [volumes]
// rules (policy.VolumeRules), ownership, and what is skipped rather than
// refused.
func TestJobOpen_EachSourcesRules(t *testing.T) {
	f := newOpenFixture(t)
	volume := func(p string) Source { s := source("volume", p, "/data"); s.VolumeRules = true; return s }
	tmpdir := func(p string) Source {
		s := source("job tmpdir", p, "/tmp")
		s.Directory, s.Owned = true, true
		return s
	}
	spool := func(p string) Source {
		s := source("job spool directory", p, p)
		s.VolumeRules, s.Directory, s.OwnedOrPrefixed, s.Fix = true, true, true, "FIX-SPOOL"
		return s
	}
	cwd := func(p string, skippable bool) Source {
		s := source("working directory", p, p)
		s.VolumeRules, s.Directory, s.Skippable, s.Fix = true, true, skippable, "FIX-CWD"
		return s
	}
	home := source("home directory", f.caller.Home, f.caller.Home)
	home.Directory, home.Optional = true, true
	for _, tc := range []struct {
		name    string
		sources []Source
		trusted bool
		mounted []string // destinations opened
		err     string
		warning string
	}{
		{"a volume under the prefix", []Source{volume(filepath.Join(f.allowed, "vol"))}, false, []string{"/data"}, "", ""},
		{"a volume outside the prefix", []Source{volume(f.outside)}, false, nil, "not under an allowed prefix", ""},
		{"a trusted caller's volume outside the prefix", []Source{volume(f.outside)}, true, []string{"/data"}, "", ""},
		{"the job tmpdir the user owns", []Source{tmpdir(f.myTmp)}, false, []string{"/tmp"}, "", ""},
		{"a job tmpdir root owns", []Source{tmpdir(f.rootTmp)}, false, nil, "refused by the trust model", ""},
		{"a spool directory the user owns, outside the prefix", []Source{spool(f.mine)}, false, []string{f.mine}, "", ""},
		{"a spool directory root owns, under the prefix", []Source{spool(filepath.Join(f.allowed, "vol"))}, false, []string{filepath.Join(f.allowed, "vol")}, "", ""},
		{"a spool directory root owns, outside the prefix", []Source{spool(f.outside)}, false, nil, "not under an allowed prefix (" + f.allowed + "): FIX-SPOOL", ""},
		{"a missing home is skipped", []Source{home}, false, nil, "", "does not exist: not mounted"},
		{"a working directory outside the prefix is refused with the fix", []Source{cwd(f.outside, false)}, false, nil, "FIX-CWD", ""},
		{"with LSF_DOCKER_WORKDIR it is skipped, without the fix", []Source{cwd(f.outside, true)}, false, nil, "", "LSF_DOCKER_WORKDIR starts the job elsewhere"},
		{"a later source replaces an earlier one at the same destination", []Source{volume(filepath.Join(f.allowed, "vol")), volume(f.mine)}, false, []string{"/data"}, "not under an allowed prefix", ""},
		{"one refusal closes what was opened", []Source{tmpdir(f.myTmp), volume(f.outside)}, false, nil, "not under an allowed prefix", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol := *f.pol
			if tc.trusted {
				pol.Callers.Trusted = []string{f.caller.Name}
			}
			job := &Job{Req: &spec.Request{}, Sources: tc.sources}
			var log bytes.Buffer
			logger := logrus.New()
			logger.SetOutput(&log)
			err := job.Open(f.caller, &pol, logger)
			defer spec.CloseBinds(job.Req.Mounts)
			switch {
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("want a refusal naming %q, got %v", tc.err, err)
			case tc.err != "":
				for _, b := range job.Req.Mounts {
					if b.Checked != nil {
						t.Errorf("%s is still open after the refusal", b.Source)
					}
				}
				return
			}
			var got []string
			for _, b := range job.Req.Mounts {
				if b.Checked == nil {
					t.Errorf("%s was not opened", b.Source)
				}
				got = append(got, b.Destination)
			}
			if !slices.Equal(got, tc.mounted) {
				t.Errorf("mounted %v, want %v", got, tc.mounted)
			}
			if tc.warning != "" && !strings.Contains(log.String(), tc.warning) || strings.Contains(log.String(), "FIX-") {
				t.Errorf("log %q, want %q and no fix", log.String(), tc.warning)
			}
		})
	}
}

// Job.ReadFiles reads the env and add-host files as the job user: their
// variables go between the job's and the site's, and a file the user may
// not read is refused.
func TestJobReadFiles_AsTheUser(t *testing.T) {
	f := newOpenFixture(t)
	write := func(p, data string, uid int) string {
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, 61510); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := write(filepath.Join(f.mine, "env"), "# comment\nFROM_FILE=1\n", 61501)
	hosts := write(filepath.Join(f.mine, "hosts"), "# hosts\ndb:10.0.0.1\n\nweb=10.0.0.2\n", 61501)
	secret := write(filepath.Join(f.outside, "secret"), "TOKEN=x\n", 0)
	badHosts := write(filepath.Join(f.mine, "bad"), "db:nowhere\n", 61501)
	for _, tc := range []struct {
		name                string
		envFiles, hostFiles []string
		env                 []string
		hosts               int
		err                 string
	}{
		{"env and host files", []string{env}, []string{hosts}, []string{"JOB=1", "FROM_FILE=1", "SITE=1"}, 2, ""},
		{"a file only root may read", []string{secret}, nil, nil, 0, "permission denied"},
		{"a bad add-host line", nil, []string{badHosts}, nil, 0, "valid IP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := &Job{Req: &spec.Request{Env: []string{"JOB=1", "SITE=1"}}, EnvFiles: tc.envFiles, HostFiles: tc.hostFiles}
			err := job.ReadFiles(f.caller, f.pol)
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want a refusal naming %q, got %v", tc.err, err)
				}
			case err != nil:
				t.Fatal(err)
			case !slices.Equal(job.Req.Env, tc.env) || len(job.Req.AddHosts) != tc.hosts:
				t.Fatalf("env %v, hosts %v", job.Req.Env, job.Req.AddHosts)
			}
		})
	}
}

// TestCheckOwner_AnUnreadableHandleIsAnError: the ownership rules read the
// owner of the opened source; a handle whose Stat fails (here: closed) is
// refused with that error, never dereferenced (the seed's front end
// ignored Stat's error and used its nil result).
func TestCheckOwner_AnUnreadableHandleIsAnError(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	caller := &policy.Caller{UID: 61501, GID: 61510, Name: "uid61501"}
	for _, s := range []Source{
		{What: "job tmpdir", Bind: spec.Bind{Source: dir}, Owned: true},
		{What: "job spool directory", Bind: spec.Bind{Source: dir}, OwnedOrPrefixed: true},
	} {
		if err := s.checkOwner(&policy.Source{Path: dir, Real: dir, File: f}, caller, []string{"/scratch"}); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("%s whose handle cannot be read: %v, want Stat's error", s.What, err)
		}
	}
}
