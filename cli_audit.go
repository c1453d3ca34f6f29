package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/genos-project/genos/core/daemon"
)

// runAudit implements `genos audit verify`, which works offline: it needs
// only the state dir, not a running gateway.
func runAudit(args []string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "verify" {
		return errors.New("usage: genos audit verify")
	}
	dir, err := stateDir()
	if err != nil {
		return err
	}
	res, err := daemon.VerifyAudit(dir)
	if err != nil {
		return err
	}
	if res.OK() {
		msg := fmt.Sprintf("Audit log intact: %d records, chain and MACs verified.", res.Records)
		if res.TornTail {
			msg += " (The last line was cut short by a crash; Genos repairs it on the next start.)"
		}
		fmt.Fprintln(stdout, msg)
		return nil
	}
	fmt.Fprintf(stdout, "Audit log BROKEN at line %d: %s\n", res.FirstBad, res.Reason)
	fmt.Fprintf(stdout, "The %d records before it verify; that line or one removed before it was altered.\n", res.Records)
	return exitError{1}
}
