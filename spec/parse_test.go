package spec

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// volume and mount parse with /cwd as the caller's working directory.
func volume(v string) (Bind, error) { return ParseVolume(v, "/cwd") }

func mount(m string) (any, error) {
	b, t, err := ParseMount(m, "/cwd")
	if t != nil {
		return *t, err
	}
	return b, err
}

// Each docker value has one parser, used by every front end: these are
// its rules.
func TestParsers_OneRuleEach(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func() (any, error)
		want  any
		err   string
	}{
		{"-m takes docker's units", func() (any, error) { return ParseMemory("4096m") }, int64(4096 << 20), ""},
		{"-m refuses a word", func() (any, error) { return ParseMemory("lots") }, nil, "invalid size"},
		{"-m refuses a negative size", func() (any, error) { return ParseMemory("-5") }, nil, "invalid size"},
		{"--memory-swap -1 is unlimited", func() (any, error) { return ParseMemorySwap("-1") }, int64(-1), ""},
		{"--memory-swap takes a size", func() (any, error) { return ParseMemorySwap("1g") }, int64(1 << 30), ""},
		{"--memory-swap refuses a size past 8 EiB, which wraps", func() (any, error) { return ParseMemorySwap("10000000000000000000") }, nil, "larger than 8 EiB"},
		{"--memory refuses a size past 8 EiB, which wraps", func() (any, error) { return ParseMemory("9000p") }, nil, "larger than 8 EiB"},
		{"--shm-size takes a size", func() (any, error) { return ParseShmSize("20G") }, int64(20 << 30), ""},
		{"--shm-size 0 is docker's default", func() (any, error) { return ParseShmSize("0") }, int64(0), ""},
		{"--shm-size refuses -1", func() (any, error) { return ParseShmSize("-1") }, nil, "want a size"},
		{"--network host", func() (any, error) { return ParseNetwork("host") }, "host", ""},
		{"--network none", func() (any, error) { return ParseNetwork("none") }, "none", ""},
		{"--network bridge is refused", func() (any, error) { return ParseNetwork("bridge") }, nil, "not supported"},
		{"--ipc private", func() (any, error) { return ParseIPC("private") }, "private", ""},
		{"--ipc unset is private", func() (any, error) { return ParseIPC("") }, "", ""},
		{"--ipc shareable is a private namespace", func() (any, error) { return ParseIPC("shareable") }, "shareable", ""},
		{"--ipc container: is refused", func() (any, error) { return ParseIPC("container:x") }, nil, "not supported"},
		{"-w must be absolute", func() (any, error) { return ParseWorkdir("work") }, nil, "absolute path"},
		{"-w absolute", func() (any, error) { return ParseWorkdir("/work") }, "/work", ""},
		{"--cgroup-parent must be absolute", func() (any, error) { return ParseCgroupParent("lsf") }, nil, "absolute cgroup path"},
		{"--add-host HOST:IP", func() (any, error) { return ParseAddHost("db:10.0.0.1") }, HostEntry{"db", "10.0.0.1"}, ""},
		{"--add-host HOST=IP", func() (any, error) { return ParseAddHost("db=10.0.0.1") }, HostEntry{"db", "10.0.0.1"}, ""},
		{"--add-host a bracketed IPv6 address", func() (any, error) { return ParseAddHost("h6:[::1]") }, HostEntry{"h6", "::1"}, ""},
		{"--add-host host-gateway is the host's address", func() (any, error) { return ParseAddHost("host.docker.internal:host-gateway") },
			HostEntry{"host.docker.internal", HostGateway}, ""},
		{"--add-host refuses a name for an address", func() (any, error) { return ParseAddHost("db:server") }, nil, "valid IP"},
		{"-v SRC:DST:ro", func() (any, error) { return volume("/a:/b:ro") }, Bind{Source: "/a", Destination: "/b", ReadOnly: true, User: true}, ""},
		{"-v relabel options are taken and ignored", func() (any, error) { return volume("/a:/b:rw,Z") }, Bind{Source: "/a", Destination: "/b", User: true}, ""},
		{"-v normalises the destination", func() (any, error) { return volume("/a:/x/../b/") }, Bind{Source: "/a", Destination: "/b", User: true}, ""},
		{"-v refuses an anonymous volume", func() (any, error) { return volume("/a") }, nil, "want SRC:DST"},
		{"-v refuses a named volume", func() (any, error) { return volume("data:/b") }, nil, "named volumes"},
		{"-v refuses /", func() (any, error) { return volume("/a:/") }, nil, "cannot mount over /"},
		{"-v docker's no-op options are taken", func() (any, error) { return volume("/a:/b:ro,cached,rprivate") },
			Bind{Source: "/a", Destination: "/b", ReadOnly: true, User: true}, ""},
		{"-v delegated, consistent, private", func() (any, error) { return volume("/a:/b:delegated,consistent,private") },
			Bind{Source: "/a", Destination: "/b", User: true}, ""},
		{"-v shared propagation is refused with the reason", func() (any, error) { return volume("/a:/b:shared") }, nil, "always private"},
		{"-v rslave propagation is refused with the reason", func() (any, error) { return volume("/a:/b:rslave") }, nil, "always private"},
		{"-v nocopy is for volumes, refused for a bind as docker's", func() (any, error) { return volume("/a:/b:nocopy") }, nil, "for volumes"},
		{"-v refuses unknown options", func() (any, error) { return volume("/a:/b:fast") }, nil, "not supported"},
		{"-v ./SRC is relative to the working directory", func() (any, error) { return volume("./data:/data") },
			Bind{Source: "/cwd/data", Destination: "/data", User: true}, ""},
		{"-v ../SRC is relative to the working directory", func() (any, error) { return volume("../x/y:/data") },
			Bind{Source: "/x/y", Destination: "/data", User: true}, ""},
		{"-v . is the working directory", func() (any, error) { return volume(".:/w") }, Bind{Source: "/cwd", Destination: "/w", User: true}, ""},
		{"--mount type=bind", func() (any, error) { return mount("type=bind,src=/a,dst=/b/.,readonly") },
			Bind{Source: "/a", Destination: "/b", ReadOnly: true, User: true}, ""},
		{"--mount readonly=false", func() (any, error) { return mount("type=bind,source=/a,target=/b,readonly=false") },
			Bind{Source: "/a", Destination: "/b", User: true}, ""},
		{"--mount type=volume is refused", func() (any, error) { return mount("type=volume,target=/b") }, nil, "only type=bind and type=tmpfs"},
		{"--mount source=./SRC is relative", func() (any, error) { return mount("type=bind,source=./d,target=/b") },
			Bind{Source: "/cwd/d", Destination: "/b", User: true}, ""},
		{"--mount bind-propagation=rprivate", func() (any, error) { return mount("type=bind,source=/a,target=/b,bind-propagation=rprivate") },
			Bind{Source: "/a", Destination: "/b", User: true}, ""},
		{"--mount bind-propagation=shared is refused", func() (any, error) { return mount("type=bind,source=/a,target=/b,bind-propagation=shared") }, nil, "always private"},
		{"--mount type=tmpfs", func() (any, error) { return mount("type=tmpfs,target=/t/,tmpfs-size=64m,tmpfs-mode=1770") },
			Tmpfs{Destination: "/t", Options: []string{"size=67108864", "mode=1770"}}, ""},
		{"--mount type=tmpfs has no source", func() (any, error) { return mount("type=tmpfs,src=/a,target=/t") }, nil, "no source"},
		{"--mount tmpfs options need type=tmpfs", func() (any, error) { return mount("type=bind,src=/a,target=/t,tmpfs-size=1m") }, nil, "need type=tmpfs"},
		{"--tmpfs DST", func() (any, error) { return ParseTmpfs("/run") }, Tmpfs{Destination: "/run"}, ""},
		{"--tmpfs DST:OPTIONS", func() (any, error) { return ParseTmpfs("/run:rw,size=64m,mode=1777,exec") },
			Tmpfs{Destination: "/run", Options: []string{"rw", "size=64m", "mode=1777", "exec"}}, ""},
		{"--tmpfs refuses an unknown option", func() (any, error) { return ParseTmpfs("/run:bind") }, nil, "not supported"},
		{"--tmpfs refuses /", func() (any, error) { return ParseTmpfs("/") }, nil, "cannot mount over /"},
		{"--tmpfs refuses a relative destination", func() (any, error) { return ParseTmpfs("run") }, nil, "absolute"},
		{"--cpus 1.5", func() (any, error) { return ParseCPUs("1.5") }, int64(1_500_000_000), ""},
		{"--cpus 0.01", func() (any, error) { return ParseCPUs("0.01") }, int64(10_000_000), ""},
		{"--cpus refuses a word", func() (any, error) { return ParseCPUs("two") }, nil, "number of CPUs"},
		{"--cpus refuses a negative number", func() (any, error) { return ParseCPUs("-1") }, nil, "negative"},
		{"--cpus refuses ten decimals", func() (any, error) { return ParseCPUs("0.0000000001") }, nil, "too precise"},
		{"--cpuset-cpus 0-3,8", func() (any, error) { return ParseCpuset("0-3,8") }, "0-3,8", ""},
		{"--cpuset-cpus refuses a backwards range", func() (any, error) { return ParseCpuset("3-0") }, nil, "ranges"},
		{"--cpuset-mems refuses a word", func() (any, error) { return ParseCpuset("all") }, nil, "want a list"},
		{"--dns takes an IP address", func() (any, error) { return ParseDNS("10.0.0.2") }, "10.0.0.2", ""},
		{"--dns takes an IPv6 address", func() (any, error) { return ParseDNS("2001:db8::1") }, "2001:db8::1", ""},
		{"--dns refuses a name", func() (any, error) { return ParseDNS("dns.example.com") }, nil, "not an IP"},
		{"--dns-search a domain", func() (any, error) { return ParseDNSSearch("example.com") }, "example.com", ""},
		{"--dns-search . is none", func() (any, error) { return ParseDNSSearch(".") }, ".", ""},
		{"--dns-search refuses white space", func() (any, error) { return ParseDNSSearch("a b") }, nil, "domain name"},
		{"--dns-search refuses a new line", func() (any, error) { return ParseDNSSearch("a\nnameserver 1.1.1.1") }, nil, "domain name"},
		{"--dns-option ndots:2", func() (any, error) { return ParseDNSOption("ndots:2") }, "ndots:2", ""},
		{"--dns-option refuses a new line", func() (any, error) { return ParseDNSOption("edns0\nnameserver 1.1.1.1") }, nil, "one resolv.conf option"},
		{"--label KEY=VALUE", func() (any, error) { k, v, err := ParseLabel("a=b=c"); return [2]string{k, v}, err }, [2]string{"a", "b=c"}, ""},
		{"--label KEY alone is empty", func() (any, error) { k, v, err := ParseLabel("a"); return [2]string{k, v}, err }, [2]string{"a", ""}, ""},
		{"--label refuses an empty name", func() (any, error) { _, _, err := ParseLabel("=x"); return nil, err }, nil, "empty name"},
		{"--stop-signal by name", func() (any, error) { return ParseSignal("USR1") }, unix.SIGUSR1, ""},
		{"--stop-signal with SIG", func() (any, error) { return ParseSignal("sigterm") }, unix.SIGTERM, ""},
		{"--stop-signal by number", func() (any, error) { return ParseSignal("9") }, unix.SIGKILL, ""},
		{"--stop-signal refuses a word", func() (any, error) { return ParseSignal("STOPPLEASE") }, nil, "no such signal"},
		{"--oom-score-adj in range", func() (any, error) { return ParseOOMScoreAdj(-500) }, -500, ""},
		{"--oom-score-adj out of range", func() (any, error) { return ParseOOMScoreAdj(1001) }, nil, "-1000 to 1000"},
		{"-p CONTAINER_PORT", func() (any, error) { return nil, ParsePublish("80") }, nil, ""},
		{"-p IP:HOST:CONTAINER/udp", func() (any, error) { return nil, ParsePublish("127.0.0.1:8080:80/udp") }, nil, ""},
		{"-p [IPv6]:HOST:CONTAINER", func() (any, error) { return nil, ParsePublish("[::1]:8000-8010:80-90") }, nil, ""},
		{"-p IP::CONTAINER", func() (any, error) { return nil, ParsePublish("127.0.0.1::80") }, nil, ""},
		{"-p refuses a word", func() (any, error) { return nil, ParsePublish("http") }, nil, "invalid port"},
		{"-p refuses a protocol", func() (any, error) { return nil, ParsePublish("80/icmp") }, nil, "protocol"},
		{"--mount needs both paths", func() (any, error) { return mount("type=bind,target=/b") }, nil, "required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.parse()
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("want an error naming %q, got %v (%v)", tc.err, err, got)
			case tc.err == "" && err != nil:
				t.Fatal(err)
			case tc.err == "" && !reflect.DeepEqual(got, tc.want):
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}
