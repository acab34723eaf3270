package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSubordinate_TheCallersRangeByNameOrID: the caller's line, by name or
// by uid; none, or no file, is no range; a broken line is an error.
func TestSubordinate_TheCallersRangeByNameOrID(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "subuid")
	body := "bob:100000:65536\nalice:200000:1000\n61003:300000:10\ncarol:0:10\n"
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		id   uint32
		want Range
		err  bool
	}{
		{"alice", 61001, Range{200000, 1000}, false},
		{"dave", 61003, Range{300000, 10}, false},
		{"erin", 61004, Range{}, false},
		{"carol", 61005, Range{}, true},
	} {
		got, err := Subordinate(file, c.name, c.id)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("%s: got %v %v, want %v (error %v)", c.name, got, err, c.want, c.err)
		}
	}
	if got, err := Subordinate(filepath.Join(dir, "none"), "alice", 1); err != nil || got != (Range{}) {
		t.Errorf("no file: %v %v", got, err)
	}
}

// TestMappings_CallerIsRootInside: 0 is the caller, 1.. the range; no
// range maps the caller alone.
func TestMappings_CallerIsRootInside(t *testing.T) {
	got := Mappings(61001, Range{200000, 1000})
	want := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 61001, Size: 1}, {ContainerID: 1, HostID: 200000, Size: 1000}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := Mappings(61001, Range{}); len(got) != 1 || got[0] != want[0] {
		t.Errorf("no range: got %v", got)
	}
}

// TestCheckContextSize_NamesTheRule: a context over the bound is refused
// naming [build] max_context_size; 0 is no bound.
func TestCheckContextSize_NamesTheRule(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckContextSize(dir, 999); err == nil || !strings.Contains(err.Error(), "[build] max_context_size") {
		t.Errorf("over the bound: %v", err)
	}
	for _, max := range []int64{0, 1000} {
		if err := CheckContextSize(dir, max); err != nil {
			t.Errorf("bound %d: %v", max, err)
		}
	}
}

// TestCheckRoot_RefusesWhatAUserCouldPoint: root makes each caller's lock
// and directory in the build root by path, so a root a user made, one
// others may write, or a link is refused.
func TestCheckRoot_RefusesWhatAUserCouldPoint(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	base := t.TempDir()
	good := filepath.Join(base, "good")
	if err := os.Mkdir(good, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := checkRoot(good); err != nil {
		t.Errorf("root's 0711 directory: %v", err)
	}
	users := filepath.Join(base, "users")
	writable := filepath.Join(base, "writable")
	link := filepath.Join(base, "link")
	for _, d := range []string{users, writable} {
		if err := os.Mkdir(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(users, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{users, writable, link} {
		if err := checkRoot(d); err == nil || !strings.Contains(err.Error(), "must be a directory of root's") {
			t.Errorf("%s: %v", filepath.Base(d), err)
		}
	}
}

// TestContextURL_GitAndTarballURLsAndTheirHosts: the URLs dockless-build
// fetches, and the host the policy decides on; local paths are not URLs;
// the git repositories over SSH (SSHContext), fetched with an agent.
func TestContextURL_GitAndTarballURLsAndTheirHosts(t *testing.T) {
	for _, c := range []struct {
		context, host string
		url, ssh      bool
	}{
		{"https://git.example/a/repo.git#main:sub", "git.example", true, false},
		{"http://127.0.0.1:8080/repo.git", "127.0.0.1:8080", true, false},
		{"git@git.example:a/repo.git#v1", "git.example", true, true},
		{"ssh://git@git.example:2222/a/repo.git", "git.example:2222", true, true},
		{"SSH://git@git.example/a/repo.git", "git.example", true, true},
		{"git://git.example/repo", "git.example", true, false},
		{"github.com/a/repo", "github.com", true, false},
		{"https://files.example/ctx.tar.gz", "files.example", true, false},
		{"/home/alice/ctx", "", false, false},
		{"./ssh://x", "", false, false},
		{".", "", false, false},
		{"-", "", false, false},
		{"ftp://files.example/ctx.tar", "", false, false},
		{"sub/dir@v1:x", "", false, false},
	} {
		host, ok := ContextURL(c.context)
		if host != c.host || ok != c.url {
			t.Errorf("%s: host %q URL %v, want %q %v", c.context, host, ok, c.host, c.url)
		}
		if ssh := SSHContext(c.context); ssh != c.ssh {
			t.Errorf("%s: over SSH %v, want %v", c.context, ssh, c.ssh)
		}
	}
}

// TestParseSecret_FilesAndVariables: docker build's --secret forms.
func TestParseSecret_FilesAndVariables(t *testing.T) {
	env := map[string]string{"TOKEN": "t0k", "OTHER": "o"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, c := range []struct {
		in   string
		want Secret
		err  bool
	}{
		{"id=tok,src=/home/a/tok", Secret{ID: "tok", Src: "/home/a/tok"}, false},
		{"id=tok,source=/home/a/tok,type=file", Secret{ID: "tok", Src: "/home/a/tok"}, false},
		{"src=/home/a/tok.txt", Secret{ID: "tok.txt", Src: "/home/a/tok.txt"}, false},
		{"id=tok,env=OTHER", Secret{ID: "tok", Value: "o"}, false},
		{"id=TOKEN,type=env", Secret{ID: "TOKEN", Value: "t0k"}, false},
		{"id=TOKEN", Secret{ID: "TOKEN", Value: "t0k"}, false},
		{"id=MISSING", Secret{}, true},
		{"id=tok,env=MISSING", Secret{}, true},
		{"id=tok,src=", Secret{}, true},
		{"tok", Secret{}, true},
		{"id=tok,type=ssh,src=/x", Secret{}, true},
	} {
		got, err := ParseSecret(c.in, lookup)
		if (err != nil) != c.err || !c.err && got != c.want {
			t.Errorf("%s: %+v %v, want %+v (error %v)", c.in, got, err, c.want, c.err)
		}
	}
}

// TestParseSSH_TheCallersAgentOrKeys: --ssh default is the caller's
// SSH_AUTH_SOCK; ID=PATHS names sockets or keys; no agent is an error
// that says how to start one.
func TestParseSSH_TheCallersAgentOrKeys(t *testing.T) {
	agent := func(k string) (string, bool) { return "/tmp/agent.sock", k == "SSH_AUTH_SOCK" }
	none := func(string) (string, bool) { return "", false }
	got, err := ParseSSH("default", agent)
	if err != nil || got.ID != "default" || strings.Join(got.Paths, ",") != "/tmp/agent.sock" {
		t.Errorf("--ssh default: %+v %v", got, err)
	}
	got, err = ParseSSH("git=/k/a,/k/b", none)
	if err != nil || got.ID != "git" || strings.Join(got.Paths, ",") != "/k/a,/k/b" {
		t.Errorf("--ssh git=/k/a,/k/b: %+v %v", got, err)
	}
	if _, err := ParseSSH("default", none); err == nil || !strings.Contains(err.Error(), "ssh-agent") {
		t.Errorf("--ssh default without an agent: %v", err)
	}
	if _, err := ParseSSH("=x", none); err == nil {
		t.Errorf("--ssh without an ID")
	}
}

// TestParseCache_LocalRegistryInline: docker build's --cache-from and
// --cache-to forms; other cache types are refused.
func TestParseCache_LocalRegistryInline(t *testing.T) {
	for _, c := range []struct {
		in   string
		to   bool
		want string
	}{
		{"type=local,src=/c", false, "map[src:/c type:local]"},
		{"type=local,dest=/c,mode=max", true, "map[dest:/c mode:max type:local]"},
		{"type=registry,ref=reg.example/a/cache:1", true, "map[ref:reg.example/a/cache:1 type:registry]"},
		{"reg.example/a/cache:1", false, "map[ref:reg.example/a/cache:1 type:registry]"},
		{"type=inline", true, "map[type:inline]"},
		{"type=inline", false, ""},
		{"type=local,dest=/c", false, ""},
		{"type=local,src=/c", true, ""},
		{"type=registry", true, ""},
		{"type=s3,bucket=b", true, ""},
		{"type=local,src=", false, ""},
	} {
		got, err := ParseCache(c.in, c.to)
		if s := fmt.Sprint(got); c.want == "" && err == nil || c.want != "" && (err != nil || s != c.want) {
			t.Errorf("%s (to %v): %s %v, want %q", c.in, c.to, s, err, c.want)
		}
	}
}
