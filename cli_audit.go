package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/genos-project/genos/core/daemon"
	"github.com/genos-project/genos/core/vault"
)

// runAudit implements `genos audit verify`, which works offline: it needs
// only the state dir, not a running gateway.
func runAudit(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "verify" {
		return errors.New("usage: genos audit verify")
	}
	dir, err := stateDir()
	if err != nil {
		return err
	}
	var v *vault.Vault
	if daemon.HasVault(dir) {
		// The log's lines and its key are sealed.
		p, ok := os.LookupEnv("GENOS_VAULT_PASSPHRASE")
		if !ok || p == "" {
			p = readSecret(stdout, bufio.NewReader(stdin), stdin, "Vault passphrase")
		}
		if v, err = daemon.OpenVault(dir, []byte(p)); err != nil {
			return err
		}
		defer v.Lock()
	}
	res, err := daemon.VerifyAudit(dir, v)
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
