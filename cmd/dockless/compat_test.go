package main

import (
	"errors"
	"github.com/dockless/dockless/oci"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// compatRow is one row of a table in docs/COMPATIBILITY.md: the words in
// backquotes of its first cell and its status.
type compatRow struct {
	items  []string
	status string
}

var (
	backquoted = regexp.MustCompile("`([^`]+)`")
	subcommand = regexp.MustCompile("^[a-z]+$")
)

// compatTable reads the table that follows the heading starting with title.
func compatTable(t *testing.T, title string) []compatRow {
	t.Helper()
	doc, err := os.ReadFile("../../docs/COMPATIBILITY.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "\n## "+title)
	if !ok {
		t.Fatalf("COMPATIBILITY.md has no section %q", title)
	}
	section, _, _ := strings.Cut(after, "\n## ")
	var rows []compatRow
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(strings.ReplaceAll(line, `\|`, "¦"), "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		r := compatRow{status: strings.TrimSpace(cells[2])}
		for _, m := range backquoted.FindAllStringSubmatch(cells[1], -1) {
			r.items = append(r.items, strings.ReplaceAll(m[1], "¦", "|"))
		}
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		t.Fatalf("section %q has no rows", title)
	}
	return rows
}

// TestCompatibility_TableMatchesTheParser keeps the docker run flag table
// true: supported flags are accepted, refused ones refused with a message,
// not-yet ones unknown to the parser.
func TestCompatibility_TableMatchesTheParser(t *testing.T) {
	defined := map[string]bool{}
	for _, f := range runFlags() {
		for _, n := range f.Names() {
			defined[n] = true
		}
	}
	for _, row := range compatTable(t, "`dockless run` flags") {
		for _, item := range row.items {
			flag, value, _ := strings.Cut(item, " ")
			flag, _, _ = strings.Cut(flag, "[")
			name := strings.TrimLeft(flag, "-")
			switch {
			case strings.HasPrefix(row.status, "supported"):
				if !defined[name] || refusals[name] != "" {
					t.Errorf("%s is marked supported but the parser does not accept it", flag)
				}
			case strings.HasPrefix(row.status, "refused"):
				if !defined[name] {
					t.Errorf("%s is marked refused but the parser does not know it", flag)
					continue
				}
				if refusals[name] != "" {
					continue
				}
				arg := strings.SplitN(strings.Trim(value, "…"), "|", 2)[0]
				arg = strings.TrimSuffix(arg, "…")
				if strings.HasSuffix(arg, "=") {
					arg += "x"
				}
				_, err := parseRun(flag, arg, "img")
				var ue usageError
				if !errors.As(err, &ue) {
					t.Errorf("%s %s is marked refused but is accepted (%v)", flag, arg, err)
				}
			case strings.HasPrefix(row.status, "not yet"):
				if defined[name] {
					t.Errorf("%s is marked not yet but the parser accepts it", flag)
				}
			default:
				t.Errorf("%s: unknown status %q", flag, row.status)
			}
		}
	}
}

// TestCompatibility_VerbsExist checks the docker and OCI verb tables
// against the commands.
func TestCompatibility_VerbsExist(t *testing.T) {
	check := func(title string, app *cli.App) {
		for _, row := range compatTable(t, title) {
			for _, item := range row.items {
				words := strings.Fields(item)
				cmd := app.Command(words[0])
				if cmd != nil && len(words) > 1 && subcommand.MatchString(words[1]) {
					cmd = cmd.Command(words[1])
				}
				switch {
				case strings.HasPrefix(row.status, "not yet") && cmd != nil:
					t.Errorf("%s: %q is marked not yet but exists", title, item)
				case !strings.HasPrefix(row.status, "not yet") && cmd == nil:
					t.Errorf("%s: %q is marked %q but there is no such command", title, item, row.status)
				}
			}
		}
	}
	check("Docker verbs", newApp(nil, nil, io.Discard))
	check("OCI runtime verbs", oci.App())
}

// TestCompatibility_LSFVariablesAreRead checks that every wrapper variable
// the table lists as supported or refused is read by the LSF front end.
func TestCompatibility_LSFVariablesAreRead(t *testing.T) {
	files, err := filepath.Glob("../../lsf/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("the lsf package's sources: %v", err)
	}
	var src []byte
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	for _, row := range compatTable(t, "LSF wrapper variables") {
		if strings.HasPrefix(row.status, "not yet") {
			continue
		}
		for _, v := range row.items {
			if !strings.Contains(string(src), `"`+v+`"`) {
				t.Errorf("%s is in the table but the lsf package never reads it", v)
			}
		}
	}
}
