package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/genos-project/genos/core/daemon"
)

func runGateway(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "address to listen on (default from config: 127.0.0.1:18789)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	jsonLog := fs.Bool("log-json", false, "log as JSON lines")
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	dir, err := stateDir()
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, *level, *jsonLog)
	if err != nil {
		return err
	}
	d, err := daemon.New(ctx, daemon.Options{StateDir: dir, Version: version, Logger: log, Listen: *listen, ChannelFactories: channelFactories()})
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Fprintf(stdout, "Genos gateway %s listening on ws://%s/ws (state dir %s)\n", version, d.Addr(), dir)
	if d.NeedsSetup() {
		fmt.Fprintln(stdout, "No model is configured yet: run `genos setup` in another terminal; the gateway picks it up without a restart.")
	}
	if !daemon.HasVault(dir) {
		fmt.Fprintln(stdout, "Your data is not encrypted yet: run `genos vault init` in another terminal to create the vault.")
	}
	return d.Run(ctx)
}
