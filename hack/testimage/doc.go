// Package testimage builds real container images from the host's static
// busybox and serves them from an in-process registry on 127.0.0.1
// (go-containerregistry's pkg/registry), for dockless's tests, the demo and
// the benchmarks. It lives under hack/ because only developer tooling uses
// it; nothing in the dockless binary imports it.
package testimage
