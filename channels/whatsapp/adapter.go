// Package whatsapp is the WhatsApp channel adapter. It links to the owner's
// account as a companion device (QR login, like WhatsApp Web) through
// go.mau.fi/whatsmeow, hands incoming messages to the gateway as
// chat.Inbound and sends replies split at channels.WhatsAppChunk.
//
// The device's keys and Signal sessions never touch the disk in plaintext:
// they live in memory (deviceStore implements whatsmeow's store
// interfaces) and are written as one file sealed by the caller's Sealer,
// within a second of each change and on Close.
//
// Replies are not streamed: WhatsApp's message edits are unreliable across
// clients, so the adapter does not implement the gateway's
// StreamingChannel and the gateway sends the finished reply through Send.
package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"

	"github.com/genos-project/genos/channels"
	"github.com/genos-project/genos/core/chat"
)

// Name is the channel's id in config, session keys and provenance.
const Name = "whatsapp"

// DefaultMaxDownloadBytes caps an inbound media file when
// Options.MaxDownloadBytes is zero.
const DefaultMaxDownloadBytes = 32 << 20

// Options configures an Adapter. StorePath and Sealer are required.
type Options struct {
	// StorePath is the sealed file holding the linked device's keys and
	// sessions (e.g. <state dir>/channels/whatsapp.enc). It exists only
	// while a device is linked.
	StorePath string
	// Sealer seals that file; *vault.Vault satisfies it.
	Sealer Sealer
	// Logger receives diagnostics (never message text above debug); nil
	// discards them.
	Logger *slog.Logger
	// ReadReceipts sends a read receipt (blue ticks) for each message
	// handed to the gateway.
	ReadReceipts bool
	// SaveFile, when set, receives each downloaded inbound file and returns
	// where it stored it (the gateway seals it); the attachment then holds
	// Path and no Data. Nil keeps the bytes in chat.Attachment.Data.
	SaveFile func(ctx context.Context, name string, data []byte) (string, error)
	// MaxDownloadBytes caps an inbound media file. A larger one becomes an
	// attachment without data and "[file too large]" in the text. Zero
	// means DefaultMaxDownloadBytes.
	MaxDownloadBytes int64
}

// ErrAlreadyLinked is returned by Login when a device is linked already;
// Logout first to link another account.
var ErrAlreadyLinked = errors.New("whatsapp: already linked; log out first")

// Adapter is a WhatsApp companion-device connection. Create it with New,
// link it with Login (once), run it with Run, and Close it when done.
// Send, Typing, Login and Logout may be called concurrently with Run.
type Adapter struct {
	opts   Options
	log    *slog.Logger
	store  *deviceStore
	health *channels.Health

	// wsHTTP, when set, dials WhatsApp's websocket; tests point it at a
	// loopback server.
	wsHTTP *http.Client
	// mediaHTTP downloads media, with the size cap applied to the body.
	mediaHTTP *http.Client

	loginMu sync.Mutex // one Login or Logout at a time
	// How long QR codes are shown; tests shorten them.
	qrFirstTTL, qrNextTTL time.Duration

	mu      sync.Mutex
	cli     *whatsmeow.Client // the client Run connects and Send uses
	wa      waClient          // cli as the send path sees it; a test seam
	linked  chan struct{}     // closed when Login links a device, then replaced
	halt    chan halt         // connection-ending events for Run, capacity 1
	deliver func(context.Context, chat.Inbound) error
	runCtx  context.Context // the context of the running Run, for event handlers
	sent    recentIDs       // ids of messages we sent, never handed back in
}

// New opens (or creates) the sealed device store and prepares a client.
// It makes no network call.
func New(ctx context.Context, opts Options) (*Adapter, error) {
	if opts.StorePath == "" {
		return nil, errors.New("whatsapp: store path is required")
	}
	if opts.Sealer == nil {
		return nil, errors.New("whatsapp: a sealer is required (device keys are never stored in plaintext)")
	}
	if opts.MaxDownloadBytes < 0 {
		return nil, errors.New("whatsapp: max download bytes must not be negative")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("whatsapp: %w", err)
	}
	if opts.MaxDownloadBytes == 0 {
		opts.MaxDownloadBytes = DefaultMaxDownloadBytes
	}
	opts.StorePath = filepath.Clean(opts.StorePath)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("channel", Name)
	st, err := openStore(opts.StorePath, opts.Sealer, log)
	if err != nil {
		return nil, fmt.Errorf("whatsapp: %w", err)
	}
	a := &Adapter{
		opts:       opts,
		log:        log,
		store:      st,
		health:     channels.NewHealth(Name, nil),
		mediaHTTP:  cappedClient(opts.MaxDownloadBytes),
		linked:     make(chan struct{}),
		halt:       make(chan halt, 1),
		qrFirstTTL: qrFirstTTL,
		qrNextTTL:  qrNextTTL,
	}
	dev, err := st.device()
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("whatsapp: %w", err)
	}
	a.setClient(dev)
	if dev.ID != nil {
		a.health.SetAccount(dev.ID.User)
	}
	return a, nil
}

// Name returns "whatsapp".
func (a *Adapter) Name() string { return Name }

// Status reports the adapter's health.
func (a *Adapter) Status() chat.ChannelStatus { return a.health.Status() }

// Linked reports whether a device is linked (Login succeeded and no logout
// happened since).
func (a *Adapter) Linked() bool {
	return a.client().Store.ID != nil
}

// Close disconnects and writes the sealed store one last time.
func (a *Adapter) Close() error {
	a.client().Disconnect()
	if err := a.store.Close(); err != nil {
		return fmt.Errorf("whatsapp: %w", err)
	}
	return nil
}

// client returns the current whatsmeow client.
func (a *Adapter) client() *whatsmeow.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cli
}

// newClient builds a whatsmeow client for dev with our HTTP clients.
func (a *Adapter) newClient(dev *store.Device) *whatsmeow.Client {
	c := whatsmeow.NewClient(dev, a.store.waLog)
	c.EnableAutoReconnect = true
	c.InitialAutoReconnect = true
	// whatsmeow waits 2 s more after each failed reconnect, without bound;
	// the hook runs on its reconnect goroutine, before the next wait.
	c.AutoReconnectHook = func(error) bool {
		c.AutoReconnectErrors = min(c.AutoReconnectErrors, maxReconnectErrors)
		return true
	}
	// Acknowledge a message only once the handler has handed it to the
	// gateway, so a crash before that gets it redelivered. (whatsmeow's
	// decrypted-event buffer stays off: it keeps a record per message for
	// 14 days, and the whole store is rewritten on changes.)
	c.SynchronousAck = true
	// Chat history is never handed to the gateway; do not download it.
	c.ManualHistorySyncDownload = true
	c.SetMediaHTTPClient(a.mediaHTTP)
	if a.wsHTTP != nil {
		c.SetPreLoginHTTPClient(a.wsHTTP)
		c.SetWebsocketHTTPClient(a.wsHTTP)
	}
	return c
}

// setClient makes a client for dev the one Run connects, wiring our event
// handler to it. Events of earlier clients are ignored from then on.
func (a *Adapter) setClient(dev *store.Device) *whatsmeow.Client {
	c := a.newClient(dev)
	c.AddEventHandler(func(evt any) { a.handleEvent(c, evt) })
	a.mu.Lock()
	a.cli = c
	a.wa = c
	a.mu.Unlock()
	return c
}

// current reports whether c is still the adapter's client.
func (a *Adapter) current(c *whatsmeow.Client) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cli == c
}

// OnStatus registers f to hear every change of the adapter's health (for
// channels.changed); f must return quickly.
func (a *Adapter) OnStatus(f func(chat.ChannelStatus)) { a.health.OnChange(f) }
