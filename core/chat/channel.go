package chat

import "time"

// ChannelState is the connection state a channel adapter reports.
type ChannelState string

// Channel states.
const (
	// ChannelConnecting: starting, not yet connected for the first time.
	ChannelConnecting ChannelState = "connecting"
	// ChannelConnected: receiving and able to send.
	ChannelConnected ChannelState = "connected"
	// ChannelReconnecting: the connection dropped (or the watchdog saw it
	// deliver nothing); retrying with backoff.
	ChannelReconnecting ChannelState = "reconnecting"
	// ChannelLoginRequired: the adapter needs the owner (a QR scan, a new
	// token) before it can connect.
	ChannelLoginRequired ChannelState = "login-required"
	// ChannelFailed: a permanent error (bad token, logged out); Reason says
	// which. The adapter does not retry.
	ChannelFailed ChannelState = "failed"
	// ChannelStopped: not running.
	ChannelStopped ChannelState = "stopped"
)

// ChannelStatus is a channel adapter's health, for channels.status and the
// tray.
type ChannelStatus struct {
	Channel string       `json:"channel"`
	Account string       `json:"account,omitempty"` // bot username, phone number…
	State   ChannelState `json:"state"`
	// Reason explains a reconnecting or failed state, in words for the
	// owner. It never holds a token or message text.
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
	// LastInbound is when a message last arrived; zero if none yet.
	LastInbound time.Time `json:"lastInbound,omitzero"`
}
