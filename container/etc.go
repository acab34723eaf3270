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
// with it). With the host network hosts follows the node's file, as
// docker's does.
func (l *launch) etcFiles() (func(), error) {
	var hosts strings.Builder
	if node, err := os.ReadFile("/etc/hosts"); err == nil && l.req.Network == "host" {
		hosts.Write(node)
		if len(node) > 0 && node[len(node)-1] != '\n' {
			hosts.WriteByte('\n')
		}
	} else {
		hosts.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	}
	for _, h := range l.req.AddHosts {
		fmt.Fprintf(&hosts, "%s\t%s\n", h.IP, h.Host)
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	files := map[string][]byte{
		"hosts":       []byte(hosts.String()),
		"hostname":    []byte(l.req.Hostname + "\n"),
		"resolv.conf": resolv,
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
