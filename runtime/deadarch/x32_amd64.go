package deadarch

// x32Probe: only an x86_64 kernel can take x32 system calls.
const x32Probe = true
