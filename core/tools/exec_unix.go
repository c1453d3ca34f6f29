//go:build unix

package tools

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// configureProcessGroup starts the shell in a new process group so a timeout
// can kill everything it spawned, not just the shell.
func configureProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
}

// killGroup sends SIGKILL to the command's whole process group. Calling it
// right after the shell was reaped is safe: while any member of the group is
// alive the kernel does not hand out its ID again, and an empty group yields
// ESRCH. (Only a brand-new process that made itself leader of a group with
// that exact ID in the moments since could be hit, which we accept.)
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}
