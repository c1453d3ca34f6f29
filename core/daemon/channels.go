package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/audit"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/durable"
	"github.com/genos-project/genos/core/gateway"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/vault"
)

// ChannelEnv is what a channel factory gets to build its adapter.
type ChannelEnv struct {
	Name     string
	StateDir string
	// Token is the channel's secret from the vault (Telegram's bot token);
	// empty for channels that pair by QR code.
	Token string
	// Sealer seals files the adapter keeps (WhatsApp's device keys); nil
	// before a vault exists.
	Sealer       config.Sealer
	ReadReceipts bool
	Logger       *slog.Logger
	// SaveFile stores an inbound attachment (sealed once a vault exists)
	// and returns its path.
	SaveFile func(ctx context.Context, name string, data []byte) (string, error)
}

// ChannelFactory builds one adapter. The composition root supplies them
// (core never imports channels/), keyed by channel name.
type ChannelFactory func(ChannelEnv) (gateway.Channel, error)

// runningChannel is one adapter and the goroutine running it.
type runningChannel struct {
	ch     gateway.Channel
	cancel context.CancelFunc
}

// channelSet holds the running adapters. They belong to the daemon's
// outer layer: they keep receiving while the vault is locked (messages then
// go to the sealed inbound queue) and stop only at shutdown or when the
// owner turns them off.
type channelSet struct {
	mu      sync.Mutex
	running map[string]*runningChannel
	failed  map[string]error // enabled channels that could not start, and why
	wg      sync.WaitGroup   // every adapter goroutine, including ones winding down
}

// tokenRef is the secret holding a channel's token.
func tokenRef(channel string) string { return channel + ".token" }

// channelRules turns the config into the access policy.
func channelRules(cfg config.Config) map[string]policy.ChannelRules {
	out := map[string]policy.ChannelRules{}
	for name, c := range cfg.Channels {
		out[name] = policy.ChannelRules{
			DM: c.DM, AllowFrom: c.AllowFrom, Group: c.Group, GroupAllowFrom: c.GroupAllowFrom,
			RequireMention: c.RequireMention,
		}
	}
	return out
}

// syncChannels starts the enabled channels that are not running and stops
// the ones no longer enabled. The caller holds d.mu with the engine up, so
// it must not wait for an adapter to finish (its deliver may be waiting for
// d.mu): stopped adapters are cancelled and wind down on their own.
func (d *Daemon) syncChannels() {
	e := d.eng
	d.chans.mu.Lock()
	defer d.chans.mu.Unlock()
	if d.chans.running == nil {
		d.chans.running = map[string]*runningChannel{}
	}
	d.chans.failed = map[string]error{}
	for name, rc := range d.chans.running {
		if c, ok := e.cfg.Channels[name]; !ok || !c.Enabled {
			rc.cancel()
			delete(d.chans.running, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(e.cfg.Channels)) {
		c := e.cfg.Channels[name]
		if !c.Enabled || d.chans.running[name] != nil {
			continue
		}
		if err := d.startChannelLocked(name, c); err != nil {
			d.log.Error("channel not started", "channel", name, "err", err)
			d.chans.failed[name] = err
		}
	}
}

// startChannelLocked builds and runs one adapter; d.chans.mu is held.
func (d *Daemon) startChannelLocked(name string, c config.Channel) error {
	factory := d.opts.ChannelFactories[name]
	if factory == nil {
		return fmt.Errorf("this build has no %s adapter", name)
	}
	env := ChannelEnv{Name: name, StateDir: d.opts.StateDir, Sealer: d.eng.sealer, ReadReceipts: c.ReadReceipts,
		Logger: d.log, SaveFile: d.mediaSaver(name)} // adapters tag their own lines
	if c.TokenRef != "" {
		tok, ok := d.eng.secrets.Get(c.TokenRef)
		if !ok {
			return fmt.Errorf("no secret %q holds its token: run `genos channels login %s`", c.TokenRef, name)
		}
		env.Token = tok
	}
	ch, err := factory(env)
	if err != nil {
		return err
	}
	// Connection changes reach the tray and clients as channels.changed;
	// the listener must not block the adapter, so the broadcast is async.
	if l, ok := ch.(interface {
		OnStatus(func(chat.ChannelStatus))
	}); ok {
		l.OnStatus(func(chat.ChannelStatus) { go d.notifyChannels() })
	}
	ctx, cancel := context.WithCancel(d.runCtx)
	rc := &runningChannel{ch: ch, cancel: cancel}
	d.chans.running[name] = rc
	d.chans.wg.Add(1)
	go func() {
		defer d.chans.wg.Done()
		err := ch.Run(ctx, func(ctx context.Context, in chat.Inbound) error { return d.channelInbound(ctx, ch, in) })
		if err != nil && ctx.Err() == nil {
			d.log.Error("channel stopped", "channel", name, "err", err)
		}
		// Adapters with state on disk (WhatsApp's sealed store) flush it.
		if c, ok := ch.(interface{ Close() error }); ok {
			if err := c.Close(); err != nil {
				d.log.Warn("closing channel", "channel", name, "err", err)
			}
		}
		// Async: whoever stops the channel may hold d.chans.mu while it
		// waits for this goroutine to finish.
		go d.notifyChannels()
	}()
	return nil
}

// stopChannels stops every adapter and waits for them (shutdown). No lock
// is held while waiting: an adapter may be inside deliver, which needs them.
func (d *Daemon) stopChannels() {
	d.chans.mu.Lock()
	var all []*runningChannel
	for name, rc := range d.chans.running {
		all = append(all, rc)
		delete(d.chans.running, name)
	}
	d.chans.mu.Unlock()
	for _, rc := range all {
		rc.cancel()
	}
	d.chans.wg.Wait() // also the ones turned off earlier and still winding down
}

// channelStatuses reports every configured channel, running or not.
func (d *Daemon) channelStatuses() []chat.ChannelStatus {
	d.mu.Lock()
	var cfg map[string]config.Channel
	if d.eng != nil {
		cfg = d.eng.cfg.Channels
	}
	d.mu.Unlock()
	d.chans.mu.Lock()
	defer d.chans.mu.Unlock()
	var out []chat.ChannelStatus
	seen := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(d.chans.running)) {
		st := d.chans.running[name].ch.Status()
		if st.State == chat.ChannelStopped {
			// Started but its Run has not reported yet.
			st.State, st.Reason = chat.ChannelConnecting, ""
		}
		out = append(out, st)
		seen[name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(cfg)) {
		switch {
		case seen[name]:
		case d.chans.failed[name] != nil:
			out = append(out, chat.ChannelStatus{Channel: name, State: chat.ChannelFailed, Reason: d.chans.failed[name].Error()})
		default:
			out = append(out, chat.ChannelStatus{Channel: name, State: chat.ChannelStopped, Reason: "turned off"})
		}
	}
	return out
}

func (d *Daemon) notifyChannels() { d.gw.NotifyChannels(d.channelStatuses()) }

// channelInbound takes a message from an adapter: sealed into the inbound
// queue while locked, through the access policy otherwise.
func (d *Daemon) channelInbound(ctx context.Context, ch gateway.Channel, in chat.Inbound) error {
	in.Channel = ch.Name()
	d.mu.Lock()
	e, q := d.eng, d.inbox
	d.mu.Unlock()
	if e == nil {
		if q == nil {
			return errors.New("the vault is locked and the inbound queue does not exist yet")
		}
		return q.Put(in)
	}
	return d.route(ctx, ch, in)
}

// channel returns the running adapter called name, or nil.
func (d *Daemon) channel(name string) gateway.Channel {
	d.chans.mu.Lock()
	defer d.chans.mu.Unlock()
	if rc := d.chans.running[name]; rc != nil {
		return rc.ch
	}
	return nil
}

// route applies the access policy to one message and acts on it. ch is
// where replies go; nil (the channel is not running) still runs the
// message, with the reply visible to the owner's clients only.
func (d *Daemon) route(ctx context.Context, ch gateway.Channel, in chat.Inbound) error {
	d.mu.Lock()
	acc, e := d.access, d.eng
	d.mu.Unlock()
	if acc == nil || e == nil {
		return errors.New("route: the vault is locked")
	}
	dec, err := acc.Check(ctx, in)
	if err != nil {
		return err
	}
	switch dec.Action {
	case policy.ActionDeliver:
		adm := d.limiter.Submit(in)
		if adm.Notice && ch != nil {
			to := chat.Outbound{Channel: in.Channel, Account: in.Account, Peer: in.Peer, Group: in.Group, Thread: in.Thread, Text: policy.FloodNotice}
			if err := ch.Send(ctx, to); err != nil {
				d.log.Debug("flood notice not sent", "channel", in.Channel, "err", err)
			}
		}
		if !adm.Accepted {
			return errors.New("too many messages are waiting; try again later")
		}
		return nil
	case policy.ActionReplyPairing:
		if ch == nil {
			d.log.Warn("pairing code not sent: the channel is not running", "channel", in.Channel)
			return nil
		}
		to := chat.Outbound{Channel: in.Channel, Account: in.Account, Peer: in.Peer, Thread: in.Thread, Text: dec.Reply}
		return ch.Send(ctx, to)
	default:
		d.log.Debug("channel message dropped", "channel", in.Channel, "reason", dec.Reason)
		return nil
	}
}

// deliverAdmitted starts the run of a message the rate limiter let
// through. If the vault locked in between, the message goes to the sealed
// queue instead.
func (d *Daemon) deliverAdmitted(ctx context.Context, in chat.Inbound) {
	d.mu.Lock()
	e, q := d.eng, d.inbox
	d.mu.Unlock()
	if e == nil {
		if q != nil {
			if err := q.Put(in); err != nil {
				d.log.Error("message lost: the vault locked and the queue refused it", "channel", in.Channel, "err", err)
			}
		}
		return
	}
	rules := policy.ChannelToolRules(toolRules(e.cfg), in.Channel, false, channelOverrides(e.cfg, in.Channel))
	if _, err := d.gw.DeliverTo(ctx, in, gateway.ChannelReply{Channel: d.channel(in.Channel), Rules: &rules}); err != nil {
		d.log.Warn("channel message not run", "channel", in.Channel, "err", err)
	}
}

// channelOverrides is the channel's tool policy from the config.
func channelOverrides(cfg config.Config, channel string) map[string]policy.Mode {
	out := map[string]policy.Mode{}
	for k, v := range cfg.Channels[channel].ToolPolicy {
		out[k] = policy.Mode(v)
	}
	return out
}

// onPairing turns pairing events into protocol events and audit records.
func (d *Daemon) onPairing(ev policy.PairingEvent) {
	r := ev.Request
	switch ev.Kind {
	case policy.PairingRequested:
		d.gw.NotifyPairingRequested(api.PairingRequest{Channel: r.Channel, Code: r.Code, Peer: r.Peer, PeerName: r.PeerName,
			CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt})
		d.record(audit.EventPairingRequested, map[string]string{"channel": r.Channel, "peer": r.Peer})
	case policy.PairingResolved:
		d.gw.NotifyPairingResolved(api.PairingResolvedEvent{Channel: r.Channel, Code: r.Code, Peer: r.Peer, Decision: string(ev.Outcome)})
		d.record(audit.EventPairingDecided, map[string]string{"channel": r.Channel, "peer": r.Peer, "decision": string(ev.Outcome)})
	}
}

// mediaSaver stores inbound attachments under media/<channel>/, sealed
// once a vault exists.
func (d *Daemon) mediaSaver(channel string) func(ctx context.Context, name string, data []byte) (string, error) {
	return func(_ context.Context, name string, data []byte) (string, error) {
		return d.saveMedia(channel, name, data)
	}
}

// saveMedia writes one attachment. With a vault it must be unlocked: an
// adapter that gets the error keeps the bytes in the message, which the
// inbound queue seals.
func (d *Daemon) saveMedia(channel, name string, data []byte) (string, error) {
	d.mu.Lock()
	e, hasVault := d.eng, d.vault != nil
	d.mu.Unlock()
	var sealer config.Sealer
	switch {
	case e != nil:
		sealer = e.sealer
	case hasVault:
		return "", fmt.Errorf("save attachment: %w", vault.ErrLocked)
	}
	dir := filepath.Join(d.opts.StateDir, "media", channel)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if sealer != nil {
		var err error
		if data, err = sealer.SealFile(data); err != nil {
			return "", err
		}
	}
	path := filepath.Join(dir, time.Now().UTC().Format("20060102-150405")+"-"+randomHex(4)+"-"+safeName(name))
	if err := durable.WriteFile(path, data, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// safeName keeps a file name readable but harmless: no separators, no
// leading dots, bounded length.
func safeName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	name = strings.Map(func(r rune) rune {
		if r == '/' || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ".")
	if name == "" {
		name = "file"
	}
	if len(name) > 80 {
		name = name[len(name)-80:]
	}
	return name
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
