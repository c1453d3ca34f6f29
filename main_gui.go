//go:build !nogui

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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
	if problem := displayProblem(); problem != "" {
		fmt.Fprintf(stderr, "%s: starting the headless gateway instead (genos gateway).\n", problem)
		return runGateway(ctx, args, os.Stdout, stderr)
	}
	dir, err := stateDir()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "Starting the Genos tray app (state dir %s).\n", dir)
	log, err := newLogger(stderr, *level, false)
	if err != nil {
		return err
	}
	pipe := api.NewPipeListener()
	d, err := daemon.New(ctx, daemon.Options{StateDir: dir, Version: version, Logger: log, Pipe: pipe, ChannelFactories: channelFactories()})
	if err != nil {
		return err
	}
	defer d.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		err := d.Run(ctx)
		if err != nil {
			log.Error("daemon stopped", "err", err)
		}
		done <- err
		cancel() // a UI without its daemon could only show errors: quit it too
	}()

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

// displayProblem says why no graphical session can be used, or "" when one
// can. macOS always has one for a logged-in user. Elsewhere X11 or Wayland
// must be announced and reachable: GLFW panics on a display it cannot open
// (a stale DISPLAY over ssh, say), so it is probed first.
func displayProblem() string {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return ""
	}
	if wl := os.Getenv("WAYLAND_DISPLAY"); wl != "" {
		sock := wl
		if !filepath.IsAbs(sock) {
			sock = filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), wl)
		}
		if reachable("unix", sock) {
			return ""
		}
	}
	d := os.Getenv("DISPLAY")
	if d == "" {
		return "No display found"
	}
	network, addr, ok := x11Address(d)
	if !ok || !reachable(network, addr) {
		return fmt.Sprintf("The display %s cannot be reached", d)
	}
	return ""
}

// x11Address maps a DISPLAY value to the X server's socket: ":N" and
// "unix:N" are the local socket /tmp/.X11-unix/XN, "host:N" is TCP 6000+N.
func x11Address(display string) (network, addr string, ok bool) {
	host, rest, found := strings.Cut(display, ":")
	if !found {
		return "", "", false
	}
	num, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return "", "", false
	}
	if host == "" || host == "unix" {
		return "unix", fmt.Sprintf("/tmp/.X11-unix/X%d", n), true
	}
	return "tcp", net.JoinHostPort(host, strconv.Itoa(6000+n)), true
}

func reachable(network, addr string) bool {
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
