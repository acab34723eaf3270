package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dockless/dockless/hack/testimage"
)

// TestPush_TagAndPushWithTheCallersCredentials: alice tags a cached image
// under her private repository and pushes it with the credentials of her
// docker config (bearer auth), in docker's words; the pushed image runs
// from a fresh store; bob, anonymous, is denied with docker's message and
// exit 1, sees neither her tag nor may replace it.
func TestPush_TagAndPushWithTheCallersCredentials(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	reg.SetAuth("bearer", "alice-reg", "s3cret")
	t.Cleanup(func() { reg.SetAuth("", "", "") })
	for _, u := range []testUser{alice, bob} {
		os.RemoveAll(filepath.Join(u.Home, ".docker"))
	}
	if r := e.loginAs(alice, "alice-reg", "s3cret"); r.code != 0 {
		t.Fatalf("alice logs in: %s", r)
	}
	mine := reg.Ref("private/alice/app:1")
	if r := e.runAs(alice, alice.Home, nil, "pull", "-q", busybox); r.code != 0 {
		t.Fatalf("alice pulls: %s", r)
	}
	if r := e.runAs(alice, alice.Home, nil, "tag", busybox, mine); r.code != 0 {
		t.Fatalf("alice tags: %s", r)
	}
	r := e.runAs(alice, alice.Home, nil, "push", mine)
	if r.code != 0 || !strings.Contains(r.stdout, "The push refers to repository ["+reg.Addr+"/private/alice/app]") ||
		!strings.Contains(r.stdout, ": Pushed\n") || !strings.Contains(r.stdout, "1: digest: sha256:") {
		t.Fatalf("alice pushes with her credentials: %s", r)
	}

	theirs := reg.Ref("private/bob/app:1")
	if r := e.runAs(bob, bob.Home, nil, "tag", busybox, theirs); r.code != 0 {
		t.Fatalf("bob tags: %s", r)
	}
	if r := e.runAs(bob, bob.Home, nil, "push", theirs); r.code != 1 || !strings.Contains(r.stderr, "denied: requested access to the resource is denied") {
		t.Fatalf("bob pushes anonymously: %s", r)
	}
	if r := e.runAs(bob, bob.Home, nil, "push", mine); r.code != 1 || !strings.Contains(r.stderr, "does not exist locally") {
		t.Fatalf("bob pushes alice's tag: %s", r)
	}
	if r := e.runAs(bob, bob.Home, nil, "tag", busybox, mine); r.code != 125 || !strings.Contains(r.stderr, "another user's image") {
		t.Fatalf("bob replaces alice's tag: %s", r)
	}
	if r := e.runAs(alice, alice.Home, nil, "tag", "no/such:image", mine); r.code != 1 || !strings.Contains(r.stderr, "no such image") {
		t.Fatalf("a missing source: %s", r)
	}

	fresh := newEnv(t)
	fresh.writePolicy("")
	if r := fresh.runAs(alice, alice.Home, nil, "run", "--rm", "-q", mine, "sh", "-c", "test -x /bin/busybox && echo ran"); r.code != 0 || r.stdout != "ran\n" {
		t.Fatalf("the pushed image from a fresh store: %s", r)
	}
}

// TestTag_AnotherUsersLocalNameIsNotTheRegistrysImage: alice tags an image
// under a name whose registry holds another image; bob, whom the registry
// lets pull that name, is not given alice's record (--pull never finds
// nothing) but the registry's image.
func TestTag_AnotherUsersLocalNameIsNotTheRegistrysImage(t *testing.T) {
	e := newEnv(t)
	e.writePolicy("")
	other, err := testimage.Busybox(testimage.Options{Env: []string{"WHOSE=registry"}})
	if err != nil {
		t.Fatal(err)
	}
	name, err := reg.Push("test/named:latest", other)
	if err != nil {
		t.Fatal(err)
	}
	if r := e.runAs(alice, alice.Home, nil, "pull", "-q", busybox); r.code != 0 {
		t.Fatalf("alice pulls: %s", r)
	}
	if r := e.runAs(alice, alice.Home, nil, "tag", busybox, name); r.code != 0 {
		t.Fatalf("alice tags: %s", r)
	}
	if r := e.runAs(bob, bob.Home, nil, "run", "--rm", "-q", "--pull", "never", name, "true"); r.code != 125 || !strings.Contains(r.stderr, "forbids pulling") {
		t.Fatalf("bob, --pull never, on alice's local name: %s", r)
	}
	if r := e.runAs(bob, bob.Home, nil, "run", "--rm", "-q", name, "sh", "-c", "echo $WHOSE"); r.code != 0 || r.stdout != "registry\n" {
		t.Fatalf("bob runs the registry's image of the name: %s", r)
	}
}
