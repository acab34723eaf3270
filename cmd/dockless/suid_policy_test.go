package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dockless/dockless/hack/testimage"
)

// makeSuidSource is a program that, setuid root in an image, gives the
// file open on its descriptor 3 to root and makes it setuid: what a job
// user does with root in the container to be root on the node.
const makeSuidSource = `package main

import "os"

func main() {
	f := os.NewFile(3, "victim")
	if err := f.Chown(0, 0); err != nil {
		panic(err)
	}
	if err := f.Chmod(os.ModeSetuid | 0o755); err != nil {
		panic(err)
	}
}
`

// TestSuid_PolicySwitchesGivingHostPrivilegesAreRefused: a policy switch
// whose effect reaches the node itself makes dockless refuse every job
// (exit 125, naming the key and its acknowledgement) unless it is
// acknowledged. Each case runs the attack the switch allows as an ordinary
// job user and checks the host file it aims at.
func TestSuid_PolicySwitchesGivingHostPrivilegesAreRefused(t *testing.T) {
	makeSuid := buildStatic(t, makeSuidSource)
	body, err := os.ReadFile(makeSuid)
	if err != nil {
		t.Fatal(err)
	}
	img, err := testimage.Busybox(testimage.Options{Extra: []testimage.File{{Name: "bin/makesuid", Mode: 0o4755, Body: body}}})
	if err != nil {
		t.Fatal(err)
	}
	suidImage, err := reg.Push("test/suid-inside:1", img)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, job, ack, image string
		// script is the attack, run in the job user's home (bound at its
		// own path); victim is the file in that home it aims at.
		script string
		// attacked reports whether the attack worked on the victim.
		attacked func(*syscall.Stat_t) bool
		want     []string
	}{
		{
			name: "ambient CAP_CHOWN takes a root file", job: "ambient_capabilities = true",
			ack:    "i_understand_ambient_capabilities_give_host_privileges = true",
			script: "chown $(id -u) victim", image: busybox,
			attacked: func(st *syscall.Stat_t) bool { return st.Uid != 0 },
			want:     []string{"[job] ambient_capabilities = true", "CAP_CHOWN", "i_understand_ambient_capabilities_give_host_privileges"},
		},
		{
			name: "no_new_privileges off makes a setuid-root file", job: "no_new_privileges = false",
			ack:    "i_understand_no_new_privileges_off_gives_root = true",
			script: "/bin/makesuid 3<victim", image: suidImage,
			attacked: func(st *syscall.Stat_t) bool { return st.Uid == 0 && st.Mode&syscall.S_ISUID != 0 },
			want:     []string{"[job] no_new_privileges = false", "i_understand_no_new_privileges_off_gives_root"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			j := newLSFJob(t, e, alice, tc.script)
			for i, kv := range j.env {
				if strings.HasPrefix(kv, "LSB_CONTAINER_IMAGE=") {
					j.env[i] = "LSB_CONTAINER_IMAGE=" + tc.image
				}
			}
			victim := filepath.Join(alice.Home, "victim")
			policy := fmt.Sprintf("[job]\nulimits = [\"memlock=8388608\"]\nlsf_top = %q\n%s\n%%s[volumes]\nallowed_prefixes = [%q]\n", j.lsfTop, tc.job, j.storage)
			for _, acknowledged := range []bool{false, true} {
				owner := 0
				if tc.image == suidImage {
					owner = int(alice.UID) // makesuid's target is the user's own file
				}
				if err := os.WriteFile(victim, []byte("host file\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(victim, owner, owner); err != nil {
					t.Fatal(err)
				}
				ack := ""
				if acknowledged {
					ack = tc.ack + "\n"
				}
				e.writePolicy(fmt.Sprintf(policy, ack))
				r := j.run(e, alice)
				var st syscall.Stat_t
				if err := syscall.Stat(victim, &st); err != nil {
					t.Fatal(err)
				}
				if !acknowledged {
					if tc.attacked(&st) {
						t.Errorf("%s without its acknowledgement: the job user's attack worked (%s: uid %d mode %o): %s", tc.job, victim, st.Uid, st.Mode, r)
					}
					if r.code != 125 {
						t.Errorf("%s without its acknowledgement: want exit 125, got %s", tc.job, r)
					}
					for _, w := range append(tc.want, suidPolicy) {
						if !strings.Contains(r.stderr, w) {
							t.Errorf("the refusal does not name %q: %s", w, r.stderr)
						}
					}
					continue
				}
				// Acknowledged, the switch does what the site accepted.
				if r.code != 0 || !tc.attacked(&st) {
					t.Errorf("%s acknowledged: the job runs with the switch's power (uid %d mode %o): %s", tc.job, st.Uid, st.Mode, r)
				}
			}
		})
	}
}

// buildStatic builds a static Go program from source and returns its path.
func buildStatic(t *testing.T, source string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "prog")
	cmd := exec.Command("go", "build", "-o", out, "main.go")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "CGO_ENABLED=0", "GO111MODULE=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building a test program: %v: %s", err, b)
	}
	return out
}
