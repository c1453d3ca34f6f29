package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/gateway"
	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/policy"
)

// channelControl serves the gateway's channels.* and channel.pairing.*.
type channelControl struct{ d *Daemon }

func (c channelControl) Status() []chat.ChannelStatus { return c.d.channelStatuses() }

// Set turns a channel on or off, storing its token in the vault first.
func (c channelControl) Set(ctx context.Context, p api.ChannelsSetParams) error {
	d := c.d
	if d.opts.ChannelFactories[p.Channel] == nil {
		return api.Errorf(api.CodeInvalidRequest, "unknown channel %q (this build has: %s)", p.Channel, strings.Join(d.channelNames(), ", "))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.eng
	if e == nil {
		return api.Errorf(api.CodeLocked, "the vault is locked")
	}
	token := strings.TrimSpace(p.Token)
	if p.Channel == config.ChannelTelegram && p.Enabled && token == "" {
		if _, ok := e.secrets.Get(tokenRef(p.Channel)); !ok {
			return api.Errorf(api.CodeInvalidRequest, "telegram needs a bot token: create a bot with @BotFather and paste its token")
		}
	}
	next := e.cfg
	next.Channels = make(map[string]config.Channel, len(e.cfg.Channels)+1)
	for k, v := range e.cfg.Channels {
		next.Channels[k] = v
	}
	ch := next.Channels[p.Channel]
	ch.Enabled = p.Enabled
	if p.Channel == config.ChannelTelegram {
		ch.TokenRef = tokenRef(p.Channel)
	}
	next.Channels[p.Channel] = ch
	if err := next.Validate(); err != nil {
		return api.Errorf(api.CodeInvalidRequest, "%v", err)
	}
	if token != "" {
		if err := e.secrets.Set(tokenRef(p.Channel), token); err != nil {
			return fmt.Errorf("store the %s token: %w", p.Channel, err)
		}
	}
	if err := config.SaveSealed(paths.ConfigFile(d.opts.StateDir), &next, e.sealer); err != nil {
		return err
	}
	e.cfg = next
	if err := d.access.SetRules(channelRules(next)); err != nil {
		return err
	}
	if token != "" {
		// A new token means a new connection: restart a running adapter
		// (the old one winds down on its own; see syncChannels).
		d.chans.mu.Lock()
		if rc := d.chans.running[p.Channel]; rc != nil {
			rc.cancel()
			delete(d.chans.running, p.Channel)
		}
		d.chans.mu.Unlock()
	}
	d.syncChannels()
	d.record("config.changed", map[string]string{"what": "channel", "channel": p.Channel, "enabled": fmt.Sprint(p.Enabled)})
	go d.notifyChannels()
	return nil
}

// Login pairs a QR-login channel (WhatsApp), enabling it first.
func (c channelControl) Login(ctx context.Context, channel string, qr func(string)) error {
	d := c.d
	if err := c.Set(ctx, api.ChannelsSetParams{Channel: channel, Enabled: true}); err != nil {
		return err
	}
	d.chans.mu.Lock()
	rc := d.chans.running[channel]
	d.chans.mu.Unlock()
	if rc == nil {
		d.chans.mu.Lock()
		why := d.chans.failed[channel]
		d.chans.mu.Unlock()
		if why != nil {
			return api.Errorf(api.CodeUnavailable, "%s did not start: %v", channel, why)
		}
		return api.Errorf(api.CodeUnavailable, "%s did not start; the gateway log says why", channel)
	}
	ql, ok := rc.ch.(gateway.QRLoginChannel)
	if !ok {
		return api.Errorf(api.CodeInvalidRequest, "%s does not pair by QR code", channel)
	}
	lctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := ql.Login(lctx, qr); err != nil {
		return fmt.Errorf("%s login: %w", channel, err)
	}
	go d.notifyChannels()
	return nil
}

// Logout disconnects a channel; WhatsApp also unlinks the device.
func (c channelControl) Logout(ctx context.Context, channel string) error {
	d := c.d
	d.chans.mu.Lock()
	rc := d.chans.running[channel]
	d.chans.mu.Unlock()
	if rc != nil {
		if ql, ok := rc.ch.(gateway.QRLoginChannel); ok {
			if err := ql.Logout(ctx); err != nil {
				d.log.Warn("logout", "channel", channel, "err", err)
			}
		}
	}
	return c.Set(ctx, api.ChannelsSetParams{Channel: channel, Enabled: false})
}

// Pairings lists pending pairing requests of one channel, or all.
func (c channelControl) Pairings(ctx context.Context, channel string) ([]api.PairingRequest, error) {
	acc, err := c.d.accessNow()
	if err != nil {
		return nil, err
	}
	names := []string{channel}
	if channel == "" {
		names = c.d.channelNames()
	}
	var out []api.PairingRequest
	for _, n := range names {
		reqs, err := acc.Pending(ctx, n)
		if err != nil {
			return nil, err
		}
		for _, r := range reqs {
			out = append(out, api.PairingRequest{Channel: r.Channel, Code: r.Code, Peer: r.Peer, PeerName: r.PeerName,
				CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt})
		}
	}
	return out, nil
}

// DecidePairing approves or denies a pairing request by its code.
func (c channelControl) DecidePairing(ctx context.Context, channel, code string, approve bool) (api.PairingResolvedEvent, error) {
	acc, err := c.d.accessNow()
	if err != nil {
		return api.PairingResolvedEvent{}, err
	}
	var r policy.PairingRequest
	decision := string(policy.PairingDenied)
	if approve {
		r, err = acc.Approve(ctx, channel, code)
		decision = string(policy.PairingApproved)
	} else {
		r, err = acc.Deny(ctx, channel, code)
	}
	if err != nil {
		if errors.Is(err, policy.ErrPairingNotFound) || errors.Is(err, policy.ErrPairingExpired) {
			return api.PairingResolvedEvent{}, api.Errorf(api.CodeNotFound, "no pending pairing request %s on %s (it may have expired)", code, channel)
		}
		return api.PairingResolvedEvent{}, err
	}
	return api.PairingResolvedEvent{Channel: r.Channel, Code: r.Code, Peer: r.Peer, Decision: decision}, nil
}

func (d *Daemon) accessNow() (*policy.Access, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.access == nil {
		return nil, api.Errorf(api.CodeLocked, "the vault is locked")
	}
	return d.access, nil
}

// channelNames lists the channels this build has adapters for.
func (d *Daemon) channelNames() []string {
	var out []string
	for _, n := range []string{config.ChannelTelegram, config.ChannelWhatsApp} {
		if d.opts.ChannelFactories[n] != nil {
			out = append(out, n)
		}
	}
	return out
}
