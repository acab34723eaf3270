package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dockless/dockless/spec"
)

// etcFiles writes the container's hosts, hostname and resolv.conf and the
// generated extra files (Options.Etc) into its state directory (removed
// with it).
func (l *launch) etcFiles() (func(), error) {
	node, err := os.ReadFile("/etc/hosts")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	files := map[string][]byte{
		"hosts":       hostsFile(node, l.req.Network, l.req.AddHosts),
		"hostname":    []byte(l.req.Hostname + "\n"),
		"resolv.conf": resolvConf(resolv, l.req.DNS, l.req.DNSSearch, l.req.DNSOptions),
	}
	for k, v := range l.opts.Etc {
		files[k] = v
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(l.dir, name), data, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil, nil
}

// defaultHosts is docker's /etc/hosts of a container with a network of
// its own (--network none).
const defaultHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"

// hostsFile is the container's /etc/hosts: with the host network the
// node's file (node), as docker's, else docker's default; then the
// --add-host entries.
func hostsFile(node []byte, network string, extra []spec.HostEntry) []byte {
	var hosts strings.Builder
	if network == "host" && node != nil {
		hosts.Write(node)
		if len(node) > 0 && node[len(node)-1] != '\n' {
			hosts.WriteByte('\n')
		}
	} else {
		hosts.WriteString(defaultHosts)
	}
	for _, h := range extra {
		fmt.Fprintf(&hosts, "%s\t%s\n", h.IP, h.Host)
	}
	return []byte(hosts.String())
}

// resolvConf is the container's resolv.conf: the node's (node), or, when
// any of --dns, --dns-search and --dns-option is given, docker's rebuild of
// it, each given list replacing the node's (search "." for none).
func resolvConf(node []byte, dns, search, options []string) []byte {
	if len(dns)+len(search)+len(options) == 0 {
		return node
	}
	var servers, domains, opts []string
	for _, line := range strings.Split(string(node), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) < 2:
		case f[0] == "nameserver":
			servers = append(servers, f[1])
		case f[0] == "search":
			domains = f[1:]
		case f[0] == "options":
			opts = append(opts, f[1:]...)
		}
	}
	for _, given := range []struct{ from, to *[]string }{{&dns, &servers}, {&search, &domains}, {&options, &opts}} {
		if len(*given.from) > 0 {
			*given.to = *given.from
		}
	}
	var b strings.Builder
	if s := strings.Join(domains, " "); len(domains) > 0 && s != "." {
		b.WriteString("search " + s + "\n")
	}
	for _, ns := range servers {
		b.WriteString("nameserver " + ns + "\n")
	}
	if len(opts) > 0 {
		b.WriteString("options " + strings.Join(opts, " ") + "\n")
	}
	return []byte(b.String())
}

// etcBinds bind the generated files in dir read-only at /etc/<name>.
func etcBinds(dir string, etc map[string][]byte) []spec.Bind {
	names := make([]string, 0, len(etc))
	for name := range etc {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []spec.Bind
	for _, name := range names {
		out = append(out, spec.Bind{Source: filepath.Join(dir, name), Destination: "/etc/" + name, ReadOnly: true})
	}
	return out
}
