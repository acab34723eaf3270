// Package hooks reads the site's OCI hooks (containers/common's hooks.d
// JSON, schema 1.0.0: oci-hooks(5)) from root's directories and adds those
// whose conditions a container's spec meets to its hooks: site MPI and
// fabric setup that runs once per container, matched by the annotations
// dockless sets (io.dockless.lsf.job, io.dockless.lsf.parallel) or always.
//
// It is a small matcher of its own rather than containers/common's, whose
// dependency tree would come into a setuid binary. Hooks run as root: each
// directory, file and hook program must be root's and writable by no one
// else, or Load refuses it, naming the file and the rule.
//
// It imports nothing of dockless; it must not read the policy itself.
package hooks
