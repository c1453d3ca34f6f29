package daemon

import "golang.org/x/sys/unix"

// harden marks the process non-dumpable so that other processes of the same
// user (commands the agent runs included) can neither ptrace it nor read
// /proc/<pid>/environ and /proc/<pid>/mem, where API keys and derived vault
// keys live. Filtering a child's environment alone does not cover that.
func harden() error { return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) }
