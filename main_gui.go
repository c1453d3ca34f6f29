//go:build !nogui

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/genos-project/genos/app"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/daemon"
)

// runApp starts the daemon in goroutines and gives the main goroutine to the
// Fyne tray app, which talks to the daemon over an in-memory listener.
func runApp(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return exitError{2}
	}
	if !hasDisplay() {
		fmt.Fprintln(stderr, "No display found: starting the headless gateway instead (genos gateway).")
		return runGateway(ctx, nil, os.Stdout, stderr)
	}
	dir, err := stateDir()
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, *level, false)
	if err != nil {
		return err
	}
	pipe := api.NewPipeListener()
	d, err := daemon.New(ctx, daemon.Options{StateDir: dir, Version: version, Logger: log, Pipe: pipe})
	if err != nil {
		return err
	}
	defer d.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()

	uiErr := app.Run(ctx, app.Options{
		Connect: func(ctx context.Context) (*api.Client, error) {
			return api.Dial(ctx, api.DialOptions{
				URL:        "ws://genos.internal/ws",
				Token:      d.Token(),
				Client:     api.ClientInfo{ID: "genos-tray", Version: version, Platform: runtime.GOOS, Mode: "ui"},
				HTTPClient: pipe.HTTPClient(),
			})
		},
		NeedsOnboarding: d.NeedsSetup(),
		SaveSetup: func(ctx context.Context, s app.Setup) error {
			return d.ApplySetup(ctx, daemon.Setup{Provider: s.Provider, BaseURL: s.BaseURL, Model: s.Model, APIKey: s.APIKey})
		},
		ProbeLocal: func(ctx context.Context) (app.LocalServer, bool) {
			_, url, models, ok := probeLocal(ctx)
			return app.LocalServer{BaseURL: url, Models: models}, ok
		},
		Version: version,
		Logger:  log,
		OnQuit:  cancel,
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			return err
		}
	case <-time.After(10 * time.Second):
		return fmt.Errorf("the daemon did not stop within 10 s")
	}
	return uiErr
}

// hasDisplay reports whether a graphical session is available. macOS always
// has one for a logged-in user; elsewhere X11 or Wayland must be announced.
func hasDisplay() bool {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}
