// Package app is the Genos desktop app: a tray menu and the chat, approvals,
// unlock, onboarding, channels and pairing windows, all talking to the
// daemon through core/api exactly as the CLI does. The composition root
// calls Run on the main goroutine.
package app

import (
	"context"
	"errors"
	"log/slog"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/genos-project/genos/app/windows"
	"github.com/genos-project/genos/assets"
	"github.com/genos-project/genos/core/api"
)

// ID is the Fyne application id; it must match FyneApp.toml.
const ID = "io.genos.app"

// Setup is the model configuration chosen in onboarding.
type Setup struct {
	Provider string // "openai" (any OpenAI-compatible server) or "anthropic"
	BaseURL  string
	Model    string
	APIKey   string
}

// LocalServer is an Ollama-compatible model server found on loopback.
type LocalServer struct {
	BaseURL string
	Models  []string
}

// Options wires the app to the daemon.
type Options struct {
	// Connect dials the gateway (in memory in the tray app). Required.
	Connect func(ctx context.Context) (*api.Client, error)
	// NeedsOnboarding shows onboarding first: there is no config yet.
	NeedsOnboarding bool
	// SaveSetup persists config and key and reconfigures the daemon. Required.
	SaveSetup func(ctx context.Context, s Setup) error
	// ProbeLocal finds a local model server, offered first in onboarding.
	// Optional.
	ProbeLocal func(ctx context.Context) (LocalServer, bool)
	// Version is shown in the tray.
	Version string
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// OnQuit is called when the user picks Quit, before the app exits.
	OnQuit func()
}

// Run shows the tray and windows and blocks until the user quits or ctx is
// done, which then quits the Fyne app. It must be called on the main
// goroutine, and at most once per process (Fyne allows one app).
func Run(ctx context.Context, o Options) error {
	if o.Connect == nil {
		return errors.New("app: Options.Connect is required")
	}
	if o.SaveSetup == nil {
		return errors.New("app: Options.SaveSetup is required")
	}
	icon := fyne.NewStaticResource("genos.png", assets.AppIcon)
	fyneapp.SetMetadata(fyne.AppMetadata{ID: ID, Name: "Genos", Version: o.Version, Build: 1, Icon: icon})
	a := fyneapp.NewWithID(ID)
	a.SetIcon(icon)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u := newUI(ctx, a, o, new(windows.UI))
	u.trayHost = trayHostAvailable()
	u.start()

	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			fyne.Do(a.Quit)
		case <-stopped:
		}
	}()
	a.Run()
	close(stopped)
	cancel()
	u.wait()
	return nil
}
