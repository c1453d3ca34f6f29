package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/daemon"
)

const vaultUsage = `usage: genos vault init|status|unlock|lock|rekey|verify

  init     create the vault and seal everything stored so far
  status   show whether the vault is locked
  unlock   unlock the running gateway's vault [--remember stores the passphrase in the OS key store]
  lock     lock the running gateway's vault now
  rekey    change the passphrase and re-seal every file
  verify   open every sealed file and report what does not open

The passphrase is read from GENOS_VAULT_PASSPHRASE when set (servers, scripts),
otherwise asked for without echo. rekey reads the new one from
GENOS_VAULT_NEW_PASSPHRASE when set.`

// runVault implements `genos vault ...`.
func runVault(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New(vaultUsage)
	}
	dir, err := stateDir()
	if err != nil {
		return err
	}
	in := bufio.NewReader(stdin)
	pass := func(prompt string) []byte {
		if p, ok := os.LookupEnv("GENOS_VAULT_PASSPHRASE"); ok && p != "" {
			return []byte(p)
		}
		return []byte(readSecret(stdout, in, stdin, prompt))
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("vault "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	remember := fs.Bool("remember", false, "store the passphrase in the OS key store")
	if err := fs.Parse(rest); err != nil || fs.NArg() > 0 {
		return errors.New(vaultUsage)
	}
	switch sub {
	case "status":
		return vaultStatus(ctx, dir, stdout)
	case "init":
		return vaultInit(ctx, dir, stdout, in, stdin, *remember)
	case "unlock":
		c, err := dialGateway(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		p := pass("Vault passphrase")
		defer clear(p)
		st, err := c.VaultUnlock(ctx, api.VaultUnlockParams{Passphrase: string(p), Remember: *remember})
		if err != nil {
			return err
		}
		printVault(stdout, st)
		return nil
	case "lock":
		c, err := dialGateway(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		st, err := c.VaultLock(ctx)
		if err != nil {
			return err
		}
		printVault(stdout, st)
		return nil
	case "rekey":
		old := pass("Current passphrase")
		defer clear(old)
		next := newPassphrase(stdout, in, stdin, "GENOS_VAULT_NEW_PASSPHRASE")
		if next == nil {
			return errors.New("the new passphrases do not match")
		}
		defer clear(next)
		if c, err := dialGateway(ctx); err == nil {
			defer c.Close()
			if _, err := c.VaultRekey(ctx, api.VaultRekeyParams{Passphrase: string(old), NewPassphrase: string(next)}); err != nil {
				return err
			}
		} else if err := daemon.RekeyVault(ctx, dir, old, next); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "Vault rekeyed: every file is sealed under the new passphrase. The old one no longer unlocks.")
		return nil
	case "verify":
		p := pass("Vault passphrase")
		defer clear(p)
		rep, err := daemon.VerifyVault(ctx, dir, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Opened %d sealed files, %d sealed lines, %d session titles and %d database rows.\n", rep.Files, rep.Lines, rep.Titles, rep.Rows)
		for _, p := range rep.Plain {
			fmt.Fprintf(stdout, "NOT SEALED: %s\n", p)
		}
		for _, p := range rep.Problems {
			fmt.Fprintf(stdout, "DOES NOT OPEN: %s\n", p)
		}
		if len(rep.Problems) > 0 {
			return exitError{1}
		}
		if len(rep.Plain) > 0 {
			fmt.Fprintln(stdout, "Plaintext data is sealed at the gateway's next unlock.")
		}
		return nil
	}
	return errors.New(vaultUsage)
}

// vaultStatus asks the running gateway, or reads the state dir when none
// runs.
func vaultStatus(ctx context.Context, dir string, stdout io.Writer) error {
	if c, err := dialGateway(ctx); err == nil {
		defer c.Close()
		st, err := c.VaultStatus(ctx)
		if err != nil {
			return err
		}
		printVault(stdout, st)
		return nil
	}
	if daemon.HasVault(dir) {
		fmt.Fprintln(stdout, "Vault: locked (the gateway is not running)")
	} else {
		fmt.Fprintln(stdout, "Vault: none. Create one with `genos vault init` (or in the Genos app's onboarding).")
	}
	return nil
}

func printVault(w io.Writer, st api.VaultStatus) {
	switch st.State {
	case api.VaultNone:
		fmt.Fprintln(w, "Vault: none. Create one with `genos vault init`.")
		return
	case api.VaultLocked:
		fmt.Fprintln(w, "Vault: locked")
	case api.VaultUnlocking:
		fmt.Fprintln(w, "Vault: unlocking (from a key source)")
	default:
		fmt.Fprintln(w, "Vault: unlocked")
	}
	if st.IdleLockMinutes > 0 {
		fmt.Fprintf(w, "Auto-lock: after %d idle minutes\n", st.IdleLockMinutes)
	} else {
		fmt.Fprintln(w, "Auto-lock: never")
	}
	if st.QueuedInbound > 0 {
		fmt.Fprintf(w, "Messages waiting for unlock: %d\n", st.QueuedInbound)
	}
	if st.RekeyPending {
		fmt.Fprintln(w, "An interrupted rekey finishes at the next unlock.")
	}
	if st.Warning != "" {
		fmt.Fprintln(w, "Note:", st.Warning)
	}
}

// vaultInit creates the vault through the running gateway, or directly in
// the state dir when none runs.
func vaultInit(ctx context.Context, dir string, stdout io.Writer, in *bufio.Reader, stdin io.Reader, remember bool) error {
	if daemon.HasVault(dir) {
		return fmt.Errorf("%s already has a vault (genos vault status)", dir)
	}
	fmt.Fprintln(stdout, "Choose a vault passphrase. It protects everything Genos stores; it cannot be recovered if lost.")
	p := newPassphrase(stdout, in, stdin, "GENOS_VAULT_PASSPHRASE")
	if p == nil {
		return errors.New("the passphrases do not match")
	}
	defer clear(p)
	if c, err := dialGateway(ctx); err == nil {
		defer c.Close()
		st, err := c.VaultCreate(ctx, api.VaultUnlockParams{Passphrase: string(p), Remember: remember})
		if err != nil {
			return err
		}
		printVault(stdout, st)
		return nil
	}
	if err := daemon.InitVault(ctx, dir, p); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Vault created and everything in", dir, "sealed. Start Genos and unlock it.")
	return nil
}

// newPassphrase reads a new passphrase from env, or twice from the user;
// nil means the two did not match.
func newPassphrase(stdout io.Writer, in *bufio.Reader, stdin io.Reader, env string) []byte {
	if p, ok := os.LookupEnv(env); ok && p != "" {
		return []byte(p)
	}
	a := readSecret(stdout, in, stdin, "New passphrase")
	b := readSecret(stdout, in, stdin, "Repeat it")
	if a != b {
		return nil
	}
	return []byte(strings.TrimRight(a, "\r"))
}
