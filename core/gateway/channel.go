package gateway

import (
	"context"

	"github.com/genos-project/genos/core/chat"
)

// Channel is a messaging adapter (channels/telegram, channels/whatsapp, …),
// declared here where the gateway consumes it. Adapters import nothing of
// core but core/chat, so every type in these signatures comes from there or
// the standard library.
type Channel interface {
	// Name is the channel's id in config, session keys and provenance
	// ("telegram", "whatsapp").
	Name() string
	// Run receives messages until ctx ends, reconnecting with backoff, and
	// hands each to deliver. An error from deliver is the gateway's
	// (queue full, policy); the adapter logs it and goes on. Run returns
	// nil when ctx ends and an error only for a permanent failure (a bad
	// token), which Status also reports.
	Run(ctx context.Context, deliver func(context.Context, chat.Inbound) error) error
	// Send delivers one whole reply: split at the platform's limit on
	// paragraph, sentence or code-fence boundaries and converted to its
	// formatting. Errors are classified (see channels.Error).
	Send(ctx context.Context, out chat.Outbound) error
	// Status reports the adapter's health.
	Status() chat.ChannelStatus
}

// StreamingChannel is a Channel that can show a reply while it is written,
// by editing one message at a throttled rate. Each value received from text
// is the whole reply so far; when text is closed the last value is final
// and is delivered completely (split, formatted) before Stream returns.
type StreamingChannel interface {
	Channel
	Stream(ctx context.Context, to chat.Outbound, text <-chan string) error
}

// TypingChannel shows a typing indicator (or presence) to the peer; the
// gateway calls it when a run starts and every few seconds while it runs.
type TypingChannel interface {
	Channel
	Typing(ctx context.Context, to chat.Outbound) error
}

// QRLoginChannel pairs by QR code (WhatsApp). Login reports each QR code
// to show (they rotate) through qr and returns once paired, or with an
// error on timeout or ctx end.
type QRLoginChannel interface {
	Channel
	Login(ctx context.Context, qr func(code string)) error
	// Logout unlinks the device and forgets its keys.
	Logout(ctx context.Context) error
}
