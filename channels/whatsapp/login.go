package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/genos-project/genos/core/chat"
)

// ErrLoginTimeout is returned by Login when every QR code expired unscanned.
var ErrLoginTimeout = errors.New("whatsapp: login timed out; no QR code was scanned")

// How long each QR code is shown: WhatsApp sends six refs, the first
// meant for a minute, the rest for 20 seconds each.
const (
	qrFirstTTL = 60 * time.Second
	qrNextTTL  = 20 * time.Second
)

// Login links the owner's account: it reports each QR code to show (they
// rotate, the first after a minute, then every 20 seconds) through qr and
// returns nil once the phone accepted the link and the new keys are stored
// sealed. It returns ErrLoginTimeout when the codes run out,
// ErrAlreadyLinked when a device is linked already, and ctx's error when
// ctx ends first.
//
// Pairing runs on its own short-lived connection with fresh keys; a
// running Run picks the linked device up and connects it.
//
// Login follows whatsmeow's GetQRChannel (its events, listened to before
// Connect, and the same code schedule) without using it: that channel can
// be sent on after it is closed when the server hangs up while a code is
// being emitted (a data race the race detector reports, and a panic in
// production), and it does not end with ctx.
func (a *Adapter) Login(ctx context.Context, qr func(code string)) error {
	if qr == nil {
		return errors.New("whatsapp: login: qr callback is nil")
	}
	a.loginMu.Lock()
	defer a.loginMu.Unlock()
	if a.Linked() {
		return ErrAlreadyLinked
	}
	dev, err := a.store.newDevice()
	if err != nil {
		return fmt.Errorf("whatsapp: login: %w", err)
	}
	pc := a.newClient(dev)
	// The pairing connection ends with the login: no reconnects of its own.
	pc.InitialAutoReconnect = false
	pc.EnableAutoReconnect = false
	pc.DisableLoginAutoReconnect = true

	// The handler must be in place before Connect: the server asks for a
	// QR code as soon as the handshake is done.
	evts := make(chan any, 8)
	done := make(chan struct{})
	pc.AddEventHandler(func(evt any) {
		switch evt.(type) {
		case *events.QR, *events.PairSuccess, *events.PairError, *events.Disconnected,
			*events.ClientOutdated, *events.QRScannedWithoutMultidevice,
			*events.Connected, *events.ConnectFailure, *events.LoggedOut, *events.TemporaryBan:
			select {
			case evts <- evt:
			case <-done:
			}
		}
	})
	connCtx, stop := a.connContext(ctx, pc)
	defer func() {
		close(done)
		stop()
		pc.RemoveEventHandlers()
	}()
	if err := pc.ConnectContext(connCtx); err != nil {
		return fmt.Errorf("whatsapp: login: connect: %w", err)
	}
	a.log.Info("whatsapp login started")

	var codes []string
	expire := time.NewTimer(time.Hour)
	expire.Stop()
	defer expire.Stop()
	show := func(ttl time.Duration) error {
		if len(codes) == 0 {
			return ErrLoginTimeout
		}
		qr(codes[0])
		codes = codes[1:]
		expire.Reset(ttl)
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("whatsapp: login: %w", ctx.Err())
		case <-expire.C:
			if err := show(a.qrNextTTL); err != nil {
				return err
			}
		case evt := <-evts:
			switch e := evt.(type) {
			case *events.QR:
				codes = slices.Clone(e.Codes)
				ttl := a.qrNextTTL
				if len(codes) == 6 {
					ttl = a.qrFirstTTL
				}
				if err := show(ttl); err != nil {
					return err
				}
			case *events.PairSuccess:
				return a.linkedNow()
			case *events.PairError:
				return fmt.Errorf("whatsapp: login: pairing failed: %w", e.Error)
			case *events.Disconnected:
				return errors.New("whatsapp: login: WhatsApp closed the connection before a code was scanned")
			case *events.ClientOutdated:
				return errors.New("whatsapp: login: WhatsApp rejected this client version; update Genos")
			case *events.QRScannedWithoutMultidevice:
				// The phone may enable multi-device and scan again.
				a.log.Warn("whatsapp QR scanned by a phone without multi-device support")
			default:
				return fmt.Errorf("whatsapp: login: unexpected %T while pairing", evt)
			}
		}
	}
}

// linkedNow switches Run to the device pairing just stored and wakes it.
func (a *Adapter) linkedNow() error {
	dev, err := a.store.device()
	if err != nil {
		return fmt.Errorf("whatsapp: login: %w", err)
	}
	if dev.ID == nil {
		return errors.New("whatsapp: login: pairing reported success but stored no device")
	}
	a.setClient(dev)
	a.health.SetAccount(dev.ID.User)
	a.health.Set(chat.ChannelConnecting, "")
	a.mu.Lock()
	close(a.linked)
	a.linked = make(chan struct{})
	a.mu.Unlock()
	a.log.Info("whatsapp account linked")
	return nil
}

// Logout unlinks the device and forgets its keys. The keys are dropped
// here even when WhatsApp cannot be told (no connection); the error then
// says to remove the device on the phone.
func (a *Adapter) Logout(ctx context.Context) error {
	a.loginMu.Lock()
	defer a.loginMu.Unlock()
	c := a.client()
	if c.Store.ID == nil {
		return nil
	}
	var notified error
	if c.IsLoggedIn() {
		notified = c.Logout(ctx) // unlinks on the server, disconnects, deletes the store
	} else {
		notified = whatsmeow.ErrNotConnected
	}
	if notified != nil {
		c.Disconnect()
		if err := c.Store.Delete(ctx); err != nil {
			return fmt.Errorf("whatsapp: logout: forget keys: %w", err)
		}
	}
	a.forgetDevice()
	a.health.Set(chat.ChannelLoginRequired, reasonLogin)
	a.stop(halt{relink: true})
	if notified != nil {
		return fmt.Errorf("whatsapp: logout: keys forgotten here, but WhatsApp was not told (%w); remove the device under Linked devices on the phone", notified)
	}
	return nil
}
