package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Some policy switches hand the job user power over the node itself, not
// only inside their container, and nothing in their name says so. Load
// refuses a policy that sets one unless the file also sets the switch's
// acknowledgement key (an i_understand_… key beside it), so that no site
// turns one on without having read what it does. docs/LSF.md ("Policy
// switches that weaken confinement") lists every switch and what it gives.

// resourceCapabilities are the capabilities that, effective for the job
// user, give them more of the node's memory and CPU or a hold on their own
// container's processes, but no power over files, users or the network of
// the node: the container has its own pid namespace, and the others act on
// the caller's own processes or limits.
var resourceCapabilities = []string{"CAP_IPC_LOCK", "CAP_KILL", "CAP_SETPCAP", "CAP_SYS_NICE", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND"}

// checkConfinement refuses the switches that weaken the confinement of
// jobs unless they are acknowledged.
func (p *Policy) checkConfinement() error {
	caps, err := p.Capabilities()
	if err != nil {
		return err
	}
	if p.Job.AmbientCapabilities && !p.Job.AmbientCapabilitiesAcknowledged {
		var host []string
		for _, c := range caps {
			if !slices.Contains(resourceCapabilities, c) {
				host = append(host, c)
			}
		}
		if len(host) > 0 {
			return fmt.Errorf("policy %s: refused: [job] ambient_capabilities = true makes %s effective for every job user on the node itself, "+
				"over the host files of their volumes and the host network (CAP_CHOWN: chown any file they can bind; CAP_DAC_OVERRIDE: read and write it; "+
				"CAP_SETUID: become root): set ambient_capabilities = false, or keep only %s in [job] capabilities, "+
				"or, if every job user may have that power, set [job] i_understand_ambient_capabilities_give_host_privileges = true",
				p.Source(), strings.Join(host, ", "), strings.Join(resourceCapabilities, ", "))
		}
	}
	if !p.Job.NoNewPrivileges && !p.Job.NoNewPrivilegesOffAcknowledged {
		return fmt.Errorf("policy %s: refused: [job] no_new_privileges = false lets the setuid-root and file-capability programs of a job's own image "+
			"run with their privileges: the job user becomes root in the container, over the host files of their volumes "+
			"(a setuid-root shell written there is root on the node): set no_new_privileges = true, "+
			"or, if every job user may be root on the node, set [job] i_understand_no_new_privileges_off_gives_root = true", p.Source())
	}
	return nil
}
