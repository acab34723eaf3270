package spec

import (
	"reflect"
	"strings"
	"testing"
)

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
		{"--shm-size takes a size", func() (any, error) { return ParseShmSize("20G") }, int64(20 << 30), ""},
		{"--shm-size refuses zero", func() (any, error) { return ParseShmSize("0") }, nil, "positive size"},
		{"--shm-size refuses -1", func() (any, error) { return ParseShmSize("-1") }, nil, "positive size"},
		{"--network host", func() (any, error) { return ParseNetwork("host") }, "host", ""},
		{"--network none", func() (any, error) { return ParseNetwork("none") }, "none", ""},
		{"--network bridge is refused", func() (any, error) { return ParseNetwork("bridge") }, nil, "not supported"},
		{"--ipc private", func() (any, error) { return ParseIPC("private") }, "private", ""},
		{"--ipc unset is private", func() (any, error) { return ParseIPC("") }, "", ""},
		{"--ipc container: is refused", func() (any, error) { return ParseIPC("container:x") }, nil, "not supported"},
		{"-w must be absolute", func() (any, error) { return ParseWorkdir("work") }, nil, "absolute path"},
		{"-w absolute", func() (any, error) { return ParseWorkdir("/work") }, "/work", ""},
		{"--cgroup-parent must be absolute", func() (any, error) { return ParseCgroupParent("lsf") }, nil, "absolute cgroup path"},
		{"--add-host HOST:IP", func() (any, error) { return ParseAddHost("db:10.0.0.1") }, HostEntry{"db", "10.0.0.1"}, ""},
		{"--add-host HOST=IP", func() (any, error) { return ParseAddHost("db=10.0.0.1") }, HostEntry{"db", "10.0.0.1"}, ""},
		{"--add-host a bracketed IPv6 address", func() (any, error) { return ParseAddHost("h6:[::1]") }, HostEntry{"h6", "::1"}, ""},
		{"--add-host refuses a name for an address", func() (any, error) { return ParseAddHost("db:server") }, nil, "valid IP"},
		{"-v SRC:DST:ro", func() (any, error) { return ParseVolume("/a:/b:ro") }, Bind{Source: "/a", Destination: "/b", ReadOnly: true, User: true}, ""},
		{"-v relabel options are taken and ignored", func() (any, error) { return ParseVolume("/a:/b:rw,Z") }, Bind{Source: "/a", Destination: "/b", User: true}, ""},
		{"-v normalises the destination", func() (any, error) { return ParseVolume("/a:/x/../b/") }, Bind{Source: "/a", Destination: "/b", User: true}, ""},
		{"-v refuses an anonymous volume", func() (any, error) { return ParseVolume("/a") }, nil, "want SRC:DST"},
		{"-v refuses a named volume", func() (any, error) { return ParseVolume("data:/b") }, nil, "named volumes"},
		{"-v refuses /", func() (any, error) { return ParseVolume("/a:/") }, nil, "cannot mount over /"},
		{"-v refuses other options", func() (any, error) { return ParseVolume("/a:/b:shared") }, nil, "not supported"},
		{"--mount type=bind", func() (any, error) { return ParseMount("type=bind,src=/a,dst=/b/.,readonly") },
			Bind{Source: "/a", Destination: "/b", ReadOnly: true, User: true}, ""},
		{"--mount readonly=false", func() (any, error) { return ParseMount("type=bind,source=/a,target=/b,readonly=false") },
			Bind{Source: "/a", Destination: "/b", User: true}, ""},
		{"--mount type=volume is refused", func() (any, error) { return ParseMount("type=volume,target=/b") }, nil, "only type=bind"},
		{"--mount needs both paths", func() (any, error) { return ParseMount("type=bind,target=/b") }, nil, "required"},
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
