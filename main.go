// Command genos is the Genos personal assistant: the tray app, the headless
// gateway and the CLI clients, in one binary. This file is the composition
// root: it parses the command line, sets up logging and builds the daemon.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/logging"
	"github.com/genos-project/genos/core/paths"
)

// version is stamped by the Makefile with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `Genos: your own encrypted personal assistant.

Usage:
  genos                      start the tray app (falls back to the gateway without a display)
  genos gateway              run the headless gateway on 127.0.0.1:18789
  genos chat "message"       send one message and stream the reply
  genos chat                 interactive chat
  genos setup                choose a model provider (interactive)
  genos status               show what the running gateway is doing
  genos approvals            list pending tool approvals
  genos approvals resolve ID allow-once|allow-always|deny
  genos audit verify         check the tamper-evident audit log
  genos vault init|status|unlock|lock|rekey|verify
                             create, unlock, lock or rekey the encrypted vault
  genos channels status|login CHANNEL|logout CHANNEL
                             messaging channels (telegram, whatsapp)
  genos pairing list|approve CODE|deny CODE
                             let someone who messaged your assistant talk to it
  genos memory search QUERY|status|reindex
                             search the assistant's memory notes, or see how they are indexed
  genos memory embedder none|openai|onnx
                             choose the embedder for semantic memory search (see genos memory)
  genos sessions compact [KEY]
                             summarise a session's older turns now (also /compact in a chat)
  genos version              print the version

Environment:
  GENOS_STATE_DIR            state directory (default ~/.genosv1)
  GENOS_VAULT_PASSPHRASE     unlocks the vault at start (servers); never passed to commands Genos runs
  GENOS_TELEGRAM_API_URL     a self-hosted Telegram Bot API server (default https://api.telegram.org)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// exitError carries a process exit code through error returns.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C asks for a graceful stop; once it has, a second one
	// gets the default behaviour and ends the process at once.
	context.AfterFunc(ctx, stop)

	var err error
	switch cmd {
	case "", "app":
		err = runApp(ctx, args, stderr)
	case "gateway":
		err = runGateway(ctx, args, stdout, stderr)
	case "chat":
		err = runChat(ctx, args, stdin, stdout, stderr)
	case "setup":
		err = runSetup(ctx, args, stdin, stdout)
	case "status":
		err = runStatus(ctx, args, stdout)
	case "approvals":
		err = runApprovals(ctx, args, stdout)
	case "audit":
		err = runAudit(args, stdin, stdout)
	case "vault":
		err = runVault(ctx, args, stdin, stdout)
	case "channels":
		err = runChannels(ctx, args, stdin, stdout)
	case "pairing":
		err = runPairing(ctx, args, stdout)
	case "memory":
		err = runMemory(ctx, args, stdin, stdout)
	case "sessions":
		err = runSessions(ctx, args, stdout)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "genos %s\n", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "genos: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// Protocol errors carry a code for programs; people need the message.
	var pe *api.ErrorShape
	if errors.As(err, &pe) {
		err = errors.New(pe.Message)
	}
	fmt.Fprintf(stderr, "genos: %v\n", err)
	return 1
}

// stateDir resolves the state dir or explains why it cannot.
func stateDir() (string, error) {
	dir, err := paths.StateDir()
	if err != nil {
		return "", fmt.Errorf("find the state directory: %w", err)
	}
	return dir, nil
}

func newLogger(w io.Writer, level string, json bool) (*slog.Logger, error) {
	if _, err := logging.ParseLevel(level); err != nil {
		return nil, err
	}
	return logging.New(w, level, json), nil
}
