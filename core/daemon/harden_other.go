//go:build !linux

package daemon

// harden has nothing to do here: other systems do not expose a process's
// environment and memory to its siblings through a /proc file.
func harden() error { return nil }
