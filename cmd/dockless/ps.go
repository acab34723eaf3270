package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/docker/go-units"
	"github.com/urfave/cli/v2"
)

// psRow is one line of `ps`, with docker's --format field names.
type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Status, State, Names, Ports string
	Pid                                                                    int
}

func (a *app) psCommand() *cli.Command {
	return &cli.Command{
		Name:  "ps",
		Usage: "list containers (your own; root and trusted callers see all)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "show all containers (dockless keeps no stopped ones)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only display container IDs"},
			&cli.BoolFlag{Name: "no-trunc", Usage: "do not truncate output"},
			&cli.StringFlag{Name: "format", Usage: "Go template over .ID .Image .Command .CreatedAt .RunningFor .Status .State .Names .Pid"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			all, err := a.node.Containers()
			if err != nil {
				return err
			}
			var tmpl *template.Template
			if f := c.String("format"); f != "" {
				if tmpl, err = template.New("ps").Parse(f); err != nil {
					return usagef("--format: %w", err)
				}
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 8, 3, ' ', 0)
			if tmpl == nil && !c.Bool("quiet") {
				fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
			}
			for _, r := range all {
				state, st := a.node.Status(r)
				row := psRow{
					ID: r.ID[:12], Image: r.Image, Command: quoteCommand(r.Command, !c.Bool("no-trunc")),
					CreatedAt: r.Created.Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: units.HumanDuration(time.Since(r.Created)) + " ago",
					State: state, Names: r.Name, Status: statusText(state, r.Created),
				}
				if st != nil {
					row.Pid = st.Pid
				}
				if c.Bool("no-trunc") {
					row.ID = r.ID
				}
				switch {
				case c.Bool("quiet"):
					fmt.Fprintln(w, row.ID)
				case tmpl != nil:
					if err := tmpl.Execute(w, row); err != nil {
						return err
					}
					fmt.Fprintln(w)
				default:
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", row.ID, row.Image, row.Command, row.RunningFor, row.Status, row.Ports, row.Names)
				}
			}
			return w.Flush()
		},
	}
}

func statusText(state string, since time.Time) string {
	switch state {
	case "running":
		return "Up " + units.HumanDuration(time.Since(since))
	case "paused":
		return "Up " + units.HumanDuration(time.Since(since)) + " (Paused)"
	default:
		return strings.ToUpper(state[:1]) + state[1:]
	}
}

func quoteCommand(cmd []string, trunc bool) string {
	s := `"` + strings.Join(cmd, " ") + `"`
	if trunc && len(s) > 22 {
		s = s[:21] + `…"`
	}
	return s
}
