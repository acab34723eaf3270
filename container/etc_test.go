package container

import (
	"testing"

	"github.com/dockless/dockless/spec"
)

func TestHostsFile_DockerDefaultsAndExtraHosts(t *testing.T) {
	node := []byte("127.0.0.1 localhost\n10.1.2.3 node1")
	extra := []spec.HostEntry{{Host: "db", IP: "10.0.0.1"}, {Host: "host.docker.internal", IP: spec.HostGateway}}
	for _, tc := range []struct {
		name, network, want string
	}{
		{"the host network has the node's hosts", "host", "127.0.0.1 localhost\n10.1.2.3 node1\n10.0.0.1\tdb\n127.0.0.1\thost.docker.internal\n"},
		{"--network none has docker's, IPv6 lines included", "none", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
			"fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n" +
			"10.0.0.1\tdb\n127.0.0.1\thost.docker.internal\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(hostsFile(node, tc.network, extra)); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestResolvConf_DockerRebuildsWhatTheFlagsReplace(t *testing.T) {
	node := "# node's\nnameserver 10.0.0.53\nnameserver 10.0.0.54\nsearch corp.example lab.example\noptions ndots:1 timeout:2\n"
	for _, tc := range []struct {
		name                 string
		dns, search, options []string
		want                 string
	}{
		{"nothing asked: the node's file as it is", nil, nil, nil, node},
		{"--dns replaces the name servers only", []string{"1.1.1.1"}, nil, nil,
			"search corp.example lab.example\nnameserver 1.1.1.1\noptions ndots:1 timeout:2\n"},
		{"--dns-search replaces the search domains", nil, []string{"a.example", "b.example"}, nil,
			"search a.example b.example\nnameserver 10.0.0.53\nnameserver 10.0.0.54\noptions ndots:1 timeout:2\n"},
		{"--dns-search . removes them", nil, []string{"."}, nil,
			"nameserver 10.0.0.53\nnameserver 10.0.0.54\noptions ndots:1 timeout:2\n"},
		{"--dns-option replaces the options", nil, nil, []string{"ndots:5", "edns0"},
			"search corp.example lab.example\nnameserver 10.0.0.53\nnameserver 10.0.0.54\noptions ndots:5 edns0\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(resolvConf([]byte(node), tc.dns, tc.search, tc.options)); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
