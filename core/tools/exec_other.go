//go:build !unix

package tools

import "os/exec"

// configureProcessGroup keeps exec.CommandContext's default cancellation,
// which kills only the shell: there are no Unix process groups here, so
// children the command started in the background can survive a timeout.
func configureProcessGroup(cmd *exec.Cmd) {}

// killGroup cannot reach the command's children without process groups; the
// shell itself has already exited when this is called.
func killGroup(cmd *exec.Cmd) error { return nil }
