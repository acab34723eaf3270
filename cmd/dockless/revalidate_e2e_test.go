package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// revalidateWithin sets [registry] revalidate_seconds for root's runs and
// the setuid binary's.
func (e *env) revalidateWithin(seconds int) {
	e.writePolicy(fmt.Sprintf("[registry]\nrevalidate_seconds = %d\n", seconds))
	if len(e.global) == 0 {
		e.global = []string{"--policy", suidPolicy}
	}
}

// TestRevalidate_CachedPublicImageAsksTheRegistryOncePerWindow: a public
// image asked about is not asked about again within [registry]
// revalidate_seconds, by any dockless process of the node, root's or a
// user's; after the window it is asked again. (A pull's answer counts too:
// the pull here notes none, so that the first start asks.)
func TestRevalidate_CachedPublicImageAsksTheRegistryOncePerWindow(t *testing.T) {
	e := newEnv(t)
	r := outageRegistry(t)
	ref, _ := pushMarked(t, r, "test/revalidated:1", "public", 0)
	e.revalidateWithin(0) // the pull notes nothing
	e.mustRun("pull", "-q", ref)
	e.revalidateWithin(3600)
	echo := []string{"run", "--rm", "-q", ref, "sh", "-c", "echo $MARK"}

	r.Reset()
	if out := e.mustRun(echo...); out != "public\n" || r.Requests() == 0 {
		t.Fatalf("the first run after the window asks the registry: %q, %d requests", out, r.Requests())
	}
	r.Reset()
	for i := 0; i < 3; i++ {
		if out := e.mustRun(echo...); out != "public\n" {
			t.Fatalf("run %d: %q", i, out)
		}
	}
	if res := e.runAs(alice, alice.Home, nil, echo...); res.code != 0 || res.stdout != "public\n" {
		t.Fatalf("alice runs the public image: %s", res)
	}
	if n := r.Requests(); n != 0 {
		t.Errorf("runs within the window, root's and alice's, asked the registry %d times", n)
	}

	e.revalidateWithin(1)
	time.Sleep(1100 * time.Millisecond) // the window passes
	r.Reset()
	if out := e.mustRun(echo...); out != "public\n" || r.Requests() == 0 {
		t.Errorf("a run after the window asks the registry again: %q, %d requests", out, r.Requests())
	}
}

// TestRevalidate_PrivateImageIsRevalidatedPerUser: alice's check of her
// private image spares her next start the registry, not bob's: bob, not
// known to be allowed, is checked with his own credentials (and refused
// without any); once his check passed, his next start asks nothing.
// Once alice logged out, her start is checked again, within the window.
func TestRevalidate_PrivateImageIsRevalidatedPerUser(t *testing.T) {
	e := newEnv(t)
	r := outageRegistry(t)
	ref, _ := pushMarked(t, r, "private/revalidated:1", "secret", 0)
	r.SetAuth("basic", "reg-user", "s3cret")
	for _, u := range []testUser{alice, bob} {
		os.RemoveAll(filepath.Join(u.Home, ".docker"))
		t.Cleanup(func() { os.RemoveAll(filepath.Join(u.Home, ".docker")) })
	}
	e.revalidateWithin(3600)
	writeDockerAuth(t, alice, r.Addr, "reg-user", "s3cret")
	echo := []string{"run", "--rm", "-q", ref, "sh", "-c", "echo $MARK"}
	if res := e.runAs(alice, alice.Home, nil, echo...); res.code != 0 || res.stdout != "secret\n" {
		t.Fatalf("alice pulls and runs her private image: %s", res)
	}
	r.Reset()
	if res := e.runAs(alice, alice.Home, nil, echo...); res.code != 0 || res.stdout != "secret\n" || r.Requests() != 0 {
		t.Errorf("alice's second run within the window asks nothing: %s, %d requests", res, r.Requests())
	}
	if res := e.runAs(bob, bob.Home, nil, echo...); res.code != 125 || r.Requests() == 0 {
		t.Errorf("bob, without credentials, is checked at the registry and refused: %s, %d requests", res, r.Requests())
	}
	writeDockerAuth(t, bob, r.Addr, "reg-user", "s3cret")
	r.Reset()
	if res := e.runAs(bob, bob.Home, nil, echo...); res.code != 0 || res.stdout != "secret\n" || r.Requests() == 0 {
		t.Errorf("bob, with credentials, is checked at the registry with them: %s, %d requests", res, r.Requests())
	}
	r.Reset()
	if res := e.runAs(bob, bob.Home, nil, echo...); res.code != 0 || r.Requests() != 0 {
		t.Errorf("bob's second run within the window asks nothing: %s, %d requests", res, r.Requests())
	}
	if res := e.runAs(alice, alice.Home, nil, "logout", r.Addr); res.code != 0 {
		t.Fatalf("logout: %s", res)
	}
	if res := e.runAs(alice, alice.Home, nil, echo...); res.code != 125 || r.Requests() == 0 {
		t.Errorf("alice, logged out, is checked at the registry within the window, and refused: %s, %d requests", res, r.Requests())
	}
}
