package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/genos-project/genos/core/store"
)

// AllowedPeer is one entry of a channel's stored allowlist.
type AllowedPeer struct {
	Peer     string    `json:"peer"`
	PeerName string    `json:"peerName,omitempty"`
	AddedAt  time.Time `json:"addedAt"`
}

// allowPayload is what gets sealed into an allowlist row.
type allowPayload struct {
	Peer string `json:"peer"`
	Name string `json:"name,omitempty"`
}

type allowedRow struct {
	id string
	AllowedPeer
}

func (a *Access) loadAllowed(ctx context.Context, channel string) ([]allowedRow, error) {
	rows, err := a.db.ListChannelAllow(ctx, channel)
	if err != nil {
		return nil, err
	}
	out := make([]allowedRow, 0, len(rows))
	for _, r := range rows {
		var p allowPayload
		if err := a.unseal(r.Sealed, &p); err != nil {
			return nil, fmt.Errorf("unseal allowlist entry %s: %w", r.ID, err)
		}
		out = append(out, allowedRow{id: r.ID, AllowedPeer: AllowedPeer{Peer: p.Peer, PeerName: p.Name, AddedAt: r.CreatedAt}})
	}
	return out, nil
}

// Allow adds peer to channel's stored allowlist by hand (the owner typed
// the id) and reports whether it was added (false: already there). A
// pending request from that peer is left to expire: the peer is delivered
// from now on anyway.
func (a *Access) Allow(ctx context.Context, channel, peer, name string) (bool, error) {
	if err := errors.Join(checkChannel(channel), checkPeer(peer)); err != nil {
		return false, fmt.Errorf("allow peer: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	allowed, err := a.loadAllowed(ctx, channel)
	if err != nil {
		return false, fmt.Errorf("allow peer on %s: %w", channel, err)
	}
	for _, p := range allowed {
		if p.Peer == peer {
			return false, nil
		}
	}
	sealed, err := a.seal(allowPayload{Peer: peer, Name: cleanName(name)})
	if err != nil {
		return false, fmt.Errorf("allow peer on %s: seal: %w", channel, err)
	}
	if err := a.db.AddChannelAllow(ctx, store.AllowRow{ID: newRowID("al_"), Channel: channel, CreatedAt: a.now(), Sealed: sealed}); err != nil {
		return false, fmt.Errorf("allow peer on %s: %w", channel, err)
	}
	return true, nil
}

// AllowedPeers returns channel's stored allowlist, oldest first. The
// config's AllowFrom is not included: it lives in the config.
func (a *Access) AllowedPeers(ctx context.Context, channel string) ([]AllowedPeer, error) {
	if err := checkChannel(channel); err != nil {
		return nil, fmt.Errorf("allowed peers: %w", err)
	}
	a.mu.Lock()
	rows, err := a.loadAllowed(ctx, channel)
	a.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("allowed peers on %s: %w", channel, err)
	}
	out := make([]AllowedPeer, len(rows))
	for i, r := range rows {
		out[i] = r.AllowedPeer
	}
	return out, nil
}

// Allowed returns the peer ids of channel's stored allowlist, oldest first.
func (a *Access) Allowed(ctx context.Context, channel string) ([]string, error) {
	peers, err := a.AllowedPeers(ctx, channel)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(peers))
	for i, p := range peers {
		ids[i] = p.Peer
	}
	return ids, nil
}

// Revoke removes peer from channel's stored allowlist; their next DM is
// treated as a stranger's. It fails with ErrPeerNotAllowed when the peer is
// not stored (the message says so when the config's AllowFrom lists the
// peer, which only a config change can undo).
func (a *Access) Revoke(ctx context.Context, channel, peer string) error {
	if err := errors.Join(checkChannel(channel), checkPeer(peer)); err != nil {
		return fmt.Errorf("revoke peer: %w", err)
	}
	a.mu.Lock()
	ev, err := a.revokeLocked(ctx, channel, peer)
	if err == nil {
		a.events.push(ev)
	}
	a.mu.Unlock()
	a.events.flush()
	if errors.Is(err, ErrPeerNotAllowed) && listed(a.Rules(channel).AllowFrom, peer) {
		return fmt.Errorf("revoke peer on %s: %w (it is allowed by the config's allowFrom; edit the config instead)", channel, err)
	}
	if err != nil {
		return fmt.Errorf("revoke peer on %s: %w", channel, err)
	}
	return nil
}

func (a *Access) revokeLocked(ctx context.Context, channel, peer string) (PairingEvent, error) {
	allowed, err := a.loadAllowed(ctx, channel)
	if err != nil {
		return PairingEvent{}, err
	}
	var (
		ids  []string
		name string
	)
	for _, p := range allowed {
		if p.Peer == peer {
			ids = append(ids, p.id)
			name = p.PeerName
		}
	}
	if len(ids) == 0 {
		return PairingEvent{}, ErrPeerNotAllowed
	}
	if _, err := a.db.DeleteChannelAllow(ctx, ids...); err != nil {
		return PairingEvent{}, err
	}
	return PairingEvent{Kind: PairingRevoked, Request: PairingRequest{Channel: channel, Peer: peer, PeerName: name}}, nil
}
