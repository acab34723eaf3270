package oci

import (
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dockless/dockless/runtime"
	"github.com/dockless/dockless/spec"
	"github.com/urfave/cli/v2"
)

func ociStateCommand() *cli.Command {
	return &cli.Command{
		Name:      "state",
		Usage:     "print a container's state (runtime-spec State JSON)",
		ArgsUsage: "CONTAINER_ID",
		Action: func(c *cli.Context) error {
			id, err := ociID(c)
			if err != nil {
				return err
			}
			st, err := runtime.OCIState(ociRoot(c), id)
			if err != nil {
				return err
			}
			return spec.WriteJSON(c.App.Writer, st)
		},
	}
}

func ociListCommand() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the containers",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "only IDs"},
		},
		Action: func(c *cli.Context) error {
			ids, err := runtime.List(ociRoot(c))
			if err != nil {
				return err
			}
			type item struct {
				ID      string    `json:"id"`
				Pid     int       `json:"pid"`
				Status  string    `json:"status"`
				Bundle  string    `json:"bundle"`
				Created time.Time `json:"created"`
				Owner   string    `json:"owner"`
			}
			var items []item
			for _, id := range ids {
				st, err := runtime.OCIState(ociRoot(c), id)
				if err != nil {
					continue
				}
				items = append(items, item{ID: id, Pid: st.Pid, Status: string(st.Status), Bundle: st.Bundle, Created: runtime.Created(ociRoot(c), id), Owner: "root"})
			}
			switch {
			case c.Bool("quiet"):
				for _, it := range items {
					fmt.Fprintln(c.App.Writer, it.ID)
				}
			case c.String("format") == "json":
				if items == nil {
					items = []item{}
				}
				return spec.WriteJSON(c.App.Writer, items)
			default:
				w := tabwriter.NewWriter(c.App.Writer, 12, 1, 3, ' ', 0)
				fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
				for _, it := range items {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", it.ID, it.Pid, it.Status, it.Bundle, it.Created.Format(time.RFC3339Nano), it.Owner)
				}
				return w.Flush()
			}
			return nil
		},
	}
}

func ociPsCommand() *cli.Command {
	return &cli.Command{
		Name:      "ps",
		Usage:     "list the processes of a container",
		ArgsUsage: "CONTAINER_ID [ps options]",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table or json"}},
		Action: func(c *cli.Context) error {
			id, err := ociID(c)
			if err != nil {
				return err
			}
			pids, err := runtime.Processes(ociRoot(c), id)
			if err != nil {
				return err
			}
			if c.String("format") == "json" {
				if pids == nil {
					pids = []int{}
				}
				return spec.WriteJSON(c.App.Writer, pids)
			}
			psArgs := c.Args().Slice()[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			out, err := exec.Command("ps", psArgs...).Output()
			if err != nil {
				return fmt.Errorf("ps: %w", err)
			}
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			pidCol := -1
			for i, h := range strings.Fields(lines[0]) {
				if h == "PID" {
					pidCol = i
				}
			}
			if pidCol < 0 {
				return fmt.Errorf("ps output has no PID column")
			}
			fmt.Fprintln(c.App.Writer, lines[0])
			for _, l := range lines[1:] {
				f := strings.Fields(l)
				if len(f) > pidCol {
					if p, err := strconv.Atoi(f[pidCol]); err == nil && slices.Contains(pids, p) {
						fmt.Fprintln(c.App.Writer, l)
					}
				}
			}
			return nil
		},
	}
}
