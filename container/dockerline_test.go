package container

import (
	"strings"
	"testing"

	"github.com/dockless/dockless/spec"
)

// The logged docker line asks for what the request asks, the flags of
// issue 17 included.
func TestDockerLine_NamesTheParityFlags(t *testing.T) {
	pids, adj, stop := int64(20), 300, 5
	req := &spec.Request{
		Init: true, Tmpfs: []spec.Tmpfs{{Destination: "/run", Options: []string{"size=1m"}}, {Destination: "/t"}},
		NanoCPUs: 1_500_000_000, CpusetCpus: "0-1", PidsLimit: &pids, OOMScoreAdj: &adj,
		DNS: []string{"10.0.0.2"}, DNSSearch: []string{"example.com"}, DNSOptions: []string{"ndots:2"},
		Labels: map[string]string{"b": "2", "a": "1"}, StopSignal: 10, StopTimeout: &stop,
	}
	got := DockerLine(req, spec.Host{}, "c1", "img")
	for _, want := range []string{"--tmpfs /run:size=1m --tmpfs /t --init", "--dns 10.0.0.2 --dns-search example.com --dns-option ndots:2",
		"--label a=1 --label b=2 --stop-signal 10 --stop-timeout 5", "--cpus 1.5", "--cpuset-cpus 0-1 --pids-limit 20 --oom-score-adj 300"} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in %s", want, got)
		}
	}
}
