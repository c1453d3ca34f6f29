package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/genos-project/genos/channels"
	"github.com/genos-project/genos/core/chat"
)

// Reasons shown to the owner in the channel status.
const (
	reasonLogin      = "scan the QR code to link WhatsApp"
	reasonLoggedOut  = "logged out on the phone; log in again"
	reasonLost       = "connection to WhatsApp lost; reconnecting"
	reasonNoAnswer   = "WhatsApp stopped answering; waiting"
	reasonUnreach    = "cannot reach WhatsApp; retrying"
	reasonReplaced   = "another program took over this WhatsApp link; restart the channel to take it back"
	reasonOutdated   = "WhatsApp rejected this client version; update Genos"
	reasonBannedFmt  = "WhatsApp temporarily banned this account (%s); retrying when it ends"
	reasonRefusedFmt = "WhatsApp refused the connection (%s); retrying"
)

// maxReconnectErrors caps whatsmeow's linear reconnect delay (2 s per
// consecutive failure) at one minute.
const maxReconnectErrors = 30

// halt tells Run that the connection ended for a reason whatsmeow does not
// recover from by itself.
type halt struct {
	// retry is how long to wait before connecting again; zero waits for
	// ctx to end or for a new login.
	retry time.Duration
	// relink: the device is gone (logged out); a new Login must link one.
	relink bool
}

// Run connects (once a device is linked), hands each message to deliver,
// and keeps the connection up: whatsmeow reconnects dropped sockets by
// itself; Run retries what it gives up on with backoff. A logout on the
// phone sets the state to failed and Run waits for a new Login instead of
// returning, so relinking needs no restart. Run returns nil when ctx ends.
func (a *Adapter) Run(ctx context.Context, deliver func(context.Context, chat.Inbound) error) error {
	if deliver == nil {
		return errors.New("whatsapp: run: deliver is nil")
	}
	a.mu.Lock()
	if a.deliver != nil {
		a.mu.Unlock()
		return errors.New("whatsapp: run: already running")
	}
	a.deliver, a.runCtx = deliver, ctx
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.deliver, a.runCtx = nil, nil
		a.mu.Unlock()
		a.client().Disconnect()
		a.health.Set(chat.ChannelStopped, "")
	}()

	a.health.Set(chat.ChannelConnecting, "")
	bo := channels.Backoff{Min: time.Second, Max: 5 * time.Minute}
	for ctx.Err() == nil {
		a.mu.Lock()
		c, linked := a.cli, a.linked
		a.mu.Unlock()
		if c.Store.ID == nil {
			if a.health.Status().State != chat.ChannelFailed {
				a.health.Set(chat.ChannelLoginRequired, reasonLogin)
			}
			select {
			case <-ctx.Done():
			case <-linked:
				a.health.Set(chat.ChannelConnecting, "")
			}
			continue
		}
		a.connect(ctx, c, linked, &bo)
	}
	return nil
}

// connect runs one connection of c until ctx ends or a halt arrives, and
// waits out what the halt asks for.
func (a *Adapter) connect(ctx context.Context, c *whatsmeow.Client, linked <-chan struct{}, bo *channels.Backoff) {
	a.drainHalt()
	connCtx, stop := a.connContext(ctx, c)
	defer stop()
	err := c.ConnectContext(connCtx)
	if err != nil && !errors.Is(err, whatsmeow.ErrAlreadyConnected) {
		if ctx.Err() != nil {
			return
		}
		a.log.Warn("whatsapp connect failed", "err", err)
		a.health.Set(chat.ChannelReconnecting, reasonUnreach)
		_ = channels.Sleep(ctx, bo.Next())
		return
	}
	bo.Reset()
	var h halt
	select {
	case <-ctx.Done():
		return
	case h = <-a.halt:
	}
	stop()
	switch {
	case h.relink:
	case h.retry > 0:
		_ = channels.Sleep(ctx, h.retry)
	default:
		select {
		case <-ctx.Done():
		case <-linked:
		}
	}
}

// connContext returns the context a connection of c runs under and a
// stop function that closes the connection and then ends that context.
// ctx ending calls stop. The order matters: whatsmeow's read loop and
// Disconnect race on the socket's state when the context is cancelled
// under a live socket, so the socket is always closed first.
func (a *Adapter) connContext(ctx context.Context, c *whatsmeow.Client) (context.Context, func()) {
	connCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var once sync.Once
	stop := func() {
		once.Do(func() {
			c.Disconnect()
			cancel()
		})
	}
	unregister := context.AfterFunc(ctx, stop)
	return connCtx, func() {
		unregister()
		stop()
	}
}

// stop hands Run a halt, replacing one it has not taken yet.
func (a *Adapter) stop(h halt) {
	a.drainHalt()
	select {
	case a.halt <- h:
	default:
	}
}

func (a *Adapter) drainHalt() {
	select {
	case <-a.halt:
	default:
	}
}

// handleEvent receives every whatsmeow event of client c, in order, on
// whatsmeow's handler goroutine.
func (a *Adapter) handleEvent(c *whatsmeow.Client, evt any) {
	if !a.current(c) {
		return
	}
	switch e := evt.(type) {
	case *events.Message:
		a.onMessage(c, e)
	case *events.Connected, *events.KeepAliveRestored:
		if id := c.Store.ID; id != nil {
			a.health.SetAccount(id.User)
		}
		a.health.Set(chat.ChannelConnected, "")
	case *events.Disconnected:
		a.health.Set(chat.ChannelReconnecting, reasonLost)
	case *events.KeepAliveTimeout:
		a.health.Set(chat.ChannelReconnecting, reasonNoAnswer)
	case *events.LoggedOut:
		// whatsmeow has deleted the device from the store already; a fresh
		// one (new keys) waits for the next Login.
		a.log.Warn("whatsapp device was logged out", "reason", e.Reason.String())
		a.forgetDevice()
		a.health.Set(chat.ChannelFailed, reasonLoggedOut)
		a.stop(halt{relink: true})
	case *events.StreamReplaced:
		a.health.Set(chat.ChannelFailed, reasonReplaced)
		a.stop(halt{})
	case *events.ClientOutdated:
		a.health.Set(chat.ChannelFailed, reasonOutdated)
		a.stop(halt{retry: time.Hour})
	case *events.TemporaryBan:
		a.health.Set(chat.ChannelFailed, fmt.Sprintf(reasonBannedFmt, e.Code.String()))
		a.stop(halt{retry: max(e.Expire, time.Minute)})
	case *events.ConnectFailure:
		a.health.Set(chat.ChannelReconnecting, fmt.Sprintf(reasonRefusedFmt, e.Reason.String()))
		a.stop(halt{retry: time.Minute})
	}
}

// forgetDevice replaces the client with one for a new, unlinked device.
func (a *Adapter) forgetDevice() {
	dev, err := a.store.newDevice()
	if err != nil {
		// Only the system's random source can fail here; keep the old
		// client, whose device has no ID and cannot connect.
		a.log.Error("whatsapp cannot create device keys", "err", err)
		return
	}
	a.setClient(dev)
	a.health.SetAccount("")
}

// onMessage translates one message and hands it to the gateway.
func (a *Adapter) onMessage(c *whatsmeow.Client, e *events.Message) {
	a.mu.Lock()
	deliver, ctx, wa := a.deliver, a.runCtx, a.wa
	a.mu.Unlock()
	if deliver == nil || ctx == nil {
		return
	}
	in, ok := a.translate(ctx, selfOf(c), wa, e)
	if !ok {
		return
	}
	a.health.Inbound()
	if err := deliver(ctx, in); err != nil {
		a.log.Warn("gateway did not take whatsapp message", "err", err)
		return
	}
	if a.opts.ReadReceipts {
		sender := e.Info.Sender
		if !e.Info.IsGroup {
			sender = types.EmptyJID
		}
		if err := wa.MarkRead(ctx, []types.MessageID{e.Info.ID}, time.Now(), e.Info.Chat, sender); err != nil {
			a.log.Debug("whatsapp read receipt failed", "err", err)
		}
	}
}

// self is the linked account's own addresses.
type self struct {
	pn, lid types.JID // without device; either may be empty
}

func selfOf(c *whatsmeow.Client) self {
	var s self
	if id := c.Store.ID; id != nil {
		s.pn = id.ToNonAD()
	}
	if !c.Store.LID.IsEmpty() {
		s.lid = c.Store.LID.ToNonAD()
	}
	return s
}

// is reports whether jid is the account itself, on any device.
func (s self) is(jid types.JID) bool {
	n := jid.ToNonAD()
	return (!s.pn.IsEmpty() && n == s.pn) || (!s.lid.IsEmpty() && n == s.lid)
}
