package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/dockless/dockless/images"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

func (a *app) loginCommand() *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "log in to a registry (credentials checked, then kept in your ~/.docker/config.json)",
		ArgsUsage: "[SERVER]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "username"},
			&cli.StringFlag{Name: "password", Aliases: []string{"p"}, Usage: "password (prefer --password-stdin)"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "read the password from stdin"},
		},
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			return a.login(c, c.Args().First(), c.String("username"), c.String("password"), c.Bool("password-stdin"), os.Stdin)
		},
	}
}

func (a *app) logoutCommand() *cli.Command {
	return &cli.Command{
		Name:         "logout",
		Usage:        "forget your credentials for a registry",
		ArgsUsage:    "[SERVER]",
		OnUsageError: onUsageError,
		Action: func(c *cli.Context) error {
			host := registryHost(c.Args().First())
			if err := images.SaveCredentials(a.caller, host, "", ""); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Removing login credentials for %s\n", host)
			return nil
		},
	}
}

// registryHost is docker's default registry for "" and strips a scheme.
func registryHost(server string) string {
	server = strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	server = strings.TrimSuffix(strings.TrimSuffix(server, "/v1/"), "/")
	if server == "" || server == "index.docker.io" || server == "registry-1.docker.io" {
		return "docker.io"
	}
	return server
}

// login asks for what is missing, checks the credentials against the
// registry and stores them, as docker login does.
func (a *app) login(c *cli.Context, server, user, pass string, passStdin bool, in *os.File) error {
	releaseInterrupts()
	host := registryHost(server)
	if passStdin {
		if user == "" {
			return usagef("--password-stdin needs --username")
		}
		b, err := io.ReadAll(in)
		if err != nil {
			return err
		}
		pass = strings.TrimRight(string(b), "\r\n")
	}
	if user == "" || pass == "" {
		if !term.IsTerminal(int(in.Fd())) {
			return usagef("cannot ask for credentials without a terminal: use --username and --password-stdin")
		}
		r := bufio.NewReader(in)
		if user == "" {
			fmt.Fprintf(c.App.ErrWriter, "Username: ")
			line, _ := r.ReadString('\n')
			user = strings.TrimSpace(line)
		}
		if pass == "" {
			fmt.Fprintf(c.App.ErrWriter, "Password: ")
			b, err := term.ReadPassword(int(in.Fd()))
			fmt.Fprintln(c.App.ErrWriter)
			if err != nil {
				return err
			}
			pass = string(b)
		}
	}
	if user == "" || pass == "" {
		return usagef("login needs a username and a password")
	}
	if err := verifyLogin(c.Context, host, user, pass); err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	if err := images.SaveCredentials(a.caller, host, user, pass); err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "WARNING! Your password will be stored unencrypted in %s.\nConfigure a credential helper to remove this warning.\n", images.DockerConfigPath(a.caller))
	fmt.Fprintln(c.App.Writer, "Login Succeeded")
	return nil
}

// verifyLogin asks the registry's /v2/ with the credentials, through
// whatever it challenges with (basic auth or a bearer token service).
func verifyLogin(ctx context.Context, host, user, pass string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	endpoint := host
	if host == "docker.io" {
		endpoint = "registry-1.docker.io"
	}
	scheme := "https"
	if local, _ := docker.MatchLocalhost(endpoint); local {
		scheme = "http"
	}
	client := &http.Client{}
	auth := docker.NewDockerAuthorizer(docker.WithAuthClient(client),
		docker.WithAuthCreds(func(string) (string, string, error) { return user, pass, nil }))
	get := func() (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+endpoint+"/v2/", nil)
		if err != nil {
			return nil, err
		}
		if err := auth.Authorize(ctx, req); err != nil {
			return nil, err
		}
		return client.Do(req)
	}
	resp, err := get()
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		if err := auth.AddResponses(ctx, []*http.Response{resp}); err != nil {
			return fmt.Errorf("unauthorized: %w", err)
		}
		if resp, err = get(); err != nil {
			if strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "403") {
				return fmt.Errorf("unauthorized: incorrect username or password (%v)", err)
			}
			return err
		}
		resp.Body.Close()
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return errors.New("unauthorized: incorrect username or password")
	default:
		return fmt.Errorf("the registry answered %s", resp.Status)
	}
}
