package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuild_CacheToAndFromLocalAndRegistry: alice's build exports its
// cache to a directory of hers and to the registry (--cache-to); a build
// from a fresh build state takes its RUN step from either (--cache-from):
// the step's random output is the first build's, where without
// --cache-from it is new. A registry cache outside [build]
// allowed_registries, and another cache type, are refused.
func TestBuild_CacheToAndFromLocalAndRegistry(t *testing.T) {
	e := buildEnv(t, "")
	ctx := twoStage(t, alice)
	df := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"cp\", \"/proc/sys/kernel/random/uuid\", \"/rand\"]\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	out := userDir(t, filepath.Join(openTempDir(t), "out"), alice, 0o755)
	cache, ref := filepath.Join(out, "cache"), reg.Ref("alice/buildcache:1")
	build := func(e *env, name string, args ...string) string {
		t.Helper()
		dest := filepath.Join(out, name)
		r := e.runAs(alice, ctx, nil, append([]string{"build", "--progress", "plain", "-o", "type=local,dest=" + dest}, append(args, ".")...)...)
		if r.code != 0 {
			t.Fatalf("%s: %s", name, r)
		}
		b, err := os.ReadFile(filepath.Join(dest, "rand"))
		if err != nil || len(b) == 0 {
			t.Fatalf("%s: /rand: %q %v", name, b, err)
		}
		return string(b)
	}
	first := build(e, "first", "--cache-to", "type=local,dest="+cache, "--cache-to", "type=registry,ref="+ref)
	if again := build(buildEnv(t, ""), "uncached"); again == first {
		t.Fatalf("a fresh build state without --cache-from reran nothing: %q", again)
	}
	for _, c := range []struct{ name, from string }{
		{"local", "type=local,src=" + cache},
		{"registry", "type=registry,ref=" + ref},
		{"bare-ref", ref},
	} {
		if got := build(buildEnv(t, ""), c.name, "--cache-from", c.from); got != first {
			t.Errorf("--cache-from %s: the RUN step ran again (%q, the first build's %q)", c.name, got, first)
		}
	}

	e = buildEnv(t, "allowed_registries = [\"push.example\"]\n")
	if r := e.runAs(alice, ctx, nil, "build", "--cache-to", "type=registry,ref="+ref, "."); r.code != 125 || !strings.Contains(r.stderr, "[build] allowed_registries") {
		t.Errorf("a registry cache outside [build] allowed_registries: %s", r)
	}
	if r := e.runAs(alice, ctx, nil, "build", "--cache-to", "type=s3,bucket=b", "."); r.code != 125 || !strings.Contains(r.stderr, "not supported") {
		t.Errorf("another cache type: %s", r)
	}
}
