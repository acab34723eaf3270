package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
		Usage:     "output the state of a container",
		ArgsUsage: "<container-id>",
		Action: func(c *cli.Context) error {
			id, err := soleID(c)
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
		Usage: "lists containers started by runc with the given root",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json (default: \"table\")"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "display only container IDs"},
		},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 0, exactArgs); err != nil {
				return err
			}
			list, err := runtime.List(ociRoot(c))
			// No default root yet: no container created yet.
			if err != nil && !(errors.Is(err, os.ErrNotExist) && !c.IsSet("root")) {
				return err
			}
			w := c.App.Writer
			switch {
			case c.Bool("quiet"):
				for _, st := range list {
					fmt.Fprintln(w, st.ID)
				}
			case c.String("format") == "table":
				tw := tabwriter.NewWriter(w, 12, 1, 3, ' ', 0)
				fmt.Fprint(tw, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
				for _, st := range list {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", st.ID, st.InitProcessPid, st.Status, st.Bundle, st.Created.Format(time.RFC3339Nano), st.Owner)
				}
				return tw.Flush()
			case c.String("format") == "json":
				// One line, as runc's: tools and runc's tests match it.
				if list == nil {
					list = []runtime.ContainerState{}
				}
				return json.NewEncoder(w).Encode(list)
			default:
				return errors.New("invalid format option")
			}
			return nil
		},
	}
}

func ociPsCommand() *cli.Command {
	return &cli.Command{
		Name:      "ps",
		Usage:     "ps displays the processes running inside a container",
		ArgsUsage: "<container-id> [ps options]",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "select one of: table or json (default: \"table\")"}},
		Action: func(c *cli.Context) error {
			if err := checkArgs(c, 1, minArgs); err != nil {
				return err
			}
			id, err := ociID(c)
			if err != nil {
				return err
			}
			pids, err := runtime.Processes(ociRoot(c), id)
			if err != nil {
				return err
			}
			switch c.String("format") {
			case "table":
			case "json":
				if pids == nil {
					pids = []int{}
				}
				return json.NewEncoder(c.App.Writer).Encode(pids)
			default:
				return errors.New("invalid format option")
			}
			return psTable(c, pids)
		},
	}
}

// psTable prints the lines of ps (ps -ef, or the options given) of the
// container's processes.
func psTable(c *cli.Context, pids []int) error {
	psArgs := c.Args().Slice()[1:]
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	pidCol := slices.Index(strings.Fields(lines[0]), "PID")
	if pidCol < 0 {
		return errors.New("couldn't find PID field in ps output")
	}
	fmt.Fprintln(c.App.Writer, lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		p, err := strconv.Atoi(f[pidCol])
		if err != nil {
			return fmt.Errorf("unable to parse pid: %w", err)
		}
		if slices.Contains(pids, p) {
			fmt.Fprintln(c.App.Writer, l)
		}
	}
	return nil
}
