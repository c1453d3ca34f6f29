package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/genos-project/genos/core/api"
)

func runStatus(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	c, err := dialGateway(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	model := "not configured (run `genos setup`)"
	if st.ModelConfigured {
		model = st.Provider + " · " + st.Model
	}
	fmt.Fprintf(stdout, "Genos %s on %s\n", st.Version, st.Listen)
	fmt.Fprintf(stdout, "  state dir   %s\n", st.StateDir)
	switch st.Vault {
	case api.VaultLocked:
		fmt.Fprintln(stdout, "  vault       locked: unlock it with `genos vault unlock` to see agent and model")
	case api.VaultUnlocked:
		fmt.Fprintln(stdout, "  vault       unlocked")
	case api.VaultUnlocking:
		fmt.Fprintln(stdout, "  vault       unlocking (from a key source)")
	default:
		fmt.Fprintln(stdout, "  vault       none: data is not encrypted yet (`genos vault init`)")
	}
	if st.Vault != api.VaultLocked && st.Vault != api.VaultUnlocking {
		fmt.Fprintf(stdout, "  agent       %s (%s)\n", st.DefaultAgent.Name, st.DefaultAgent.ID)
		fmt.Fprintf(stdout, "  model       %s\n", model)
	}
	fmt.Fprintf(stdout, "  sessions    %d\n", st.Sessions)
	fmt.Fprintf(stdout, "  active runs %d\n", st.ActiveRuns)
	fmt.Fprintf(stdout, "  approvals   %d pending\n", st.PendingApprovals)
	for _, w := range st.Warnings {
		if w == "vault locked" {
			continue // said above
		}
		fmt.Fprintf(stdout, "  warning     %s\n", w)
	}
	return nil
}

func runApprovals(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := dialGateway(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	if len(args) == 0 || args[0] == "list" {
		res, err := c.ApprovalsList(ctx)
		if err != nil {
			return err
		}
		if len(res.Approvals) == 0 {
			fmt.Fprintln(stdout, "No pending approvals.")
			return nil
		}
		for _, a := range res.Approvals {
			printApproval(stdout, a)
		}
		return nil
	}
	if args[0] != "resolve" || len(args) != 3 {
		return errors.New("usage: genos approvals [list] | genos approvals resolve ID allow-once|allow-always|deny")
	}
	res, err := c.ApprovalsResolve(ctx, api.ApprovalsResolveParams{ID: args[1], Decision: args[2]})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s\n", res.ID, res.Decision)
	return nil
}

func printApproval(w io.Writer, a api.Approval) {
	left := time.Until(a.ExpiresAt).Round(time.Second)
	fmt.Fprintf(w, "%s  %s (%s) in %s, expires in %s\n", a.ID, a.Tool, a.Category, a.SessionKey, left)
	fmt.Fprintf(w, "%s\n", describeArgs(a.Args, "    "))
}

// describeArgs shows tool arguments the way a person reads them: a shell
// command as a command line, anything else as indented JSON without the
// HTML escaping encoding/json adds.
func describeArgs(raw json.RawMessage, indent string) string {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return indent + string(raw)
	}
	if cmd, ok := m["command"].(string); ok && len(m) == 1 {
		return indent + "$ " + strings.ReplaceAll(cmd, "\n", "\n"+indent+"  ")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent(indent, "  ")
	if err := enc.Encode(m); err != nil {
		return indent + string(raw)
	}
	return indent + strings.TrimRight(b.String(), "\n")
}
