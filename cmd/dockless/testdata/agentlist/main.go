// agentlist prints the comment of each key the SSH agent at
// $SSH_AUTH_SOCK holds, one a line: ssh-add -l for a build's RUN step
// (TestBuild_SecretsAndSSHAsTheCallerNotInTheImage), built static.
package main

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh/agent"
)

func main() {
	conn, err := net.Dial("unix", os.Getenv("SSH_AUTH_SOCK"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	keys, err := agent.NewClient(conn).List()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, k := range keys {
		fmt.Println(k.Comment)
	}
}
