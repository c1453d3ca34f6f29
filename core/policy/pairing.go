package policy

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/store"
)

// Pairing codes: PairingCodeLength characters from PairingAlphabet (no 0/O,
// 1/I, easy to read out and type), valid for PairingTTL.
const (
	PairingAlphabet   = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	PairingCodeLength = 8
	PairingTTL        = time.Hour
)

// Errors of the pairing API, for callers that branch on them.
var (
	// ErrPairingNotFound means no pending request of the channel has that
	// code (never issued, already resolved, or evicted).
	ErrPairingNotFound = errors.New("pairing code not found")
	// ErrPairingExpired means the code existed but its hour has passed;
	// the sender has to write again to get a new one.
	ErrPairingExpired = errors.New("pairing code expired")
	// ErrPeerNotAllowed means Revoke found no stored allowlist entry.
	ErrPeerNotAllowed = errors.New("peer is not in the channel's allowlist")
)

// PairingReply returns the exact text sent to a stranger with their code.
func PairingReply(code string) string {
	return "Hi! I'm a private assistant. To talk with me, my owner needs to approve you. " +
		"Your pairing code: " + code + " (valid for 1 hour)."
}

// PairingRequest is a stranger waiting for the owner's approval.
type PairingRequest struct {
	// ID identifies the request (random, not the code).
	ID      string `json:"id"`
	Channel string `json:"channel"`
	Peer    string `json:"peer"`
	// PeerName is the display name the platform gave, cleaned for display.
	PeerName  string    `json:"peerName,omitempty"`
	Code      string    `json:"code"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// PairingEventKind says what happened.
type PairingEventKind string

// The pairing event kinds.
const (
	PairingRequested PairingEventKind = "requested"
	PairingResolved  PairingEventKind = "resolved"
	// PairingRevoked: the owner removed a peer from the allowlist
	// (Request carries only Channel, Peer and PeerName).
	PairingRevoked PairingEventKind = "revoked"
)

// PairingOutcome is how a request was resolved.
type PairingOutcome string

// The outcomes of a resolved request.
const (
	PairingApproved PairingOutcome = "approved"
	PairingDenied   PairingOutcome = "denied"
	PairingExpired  PairingOutcome = "expired"
	// PairingEvicted: a newer stranger took its place at the channel's
	// pending limit.
	PairingEvicted PairingOutcome = "evicted"
)

// PairingEvent tells the gateway (broadcast, tray notification, audit)
// about a pairing request. Outcome is set for PairingResolved only.
type PairingEvent struct {
	Kind    PairingEventKind
	Request PairingRequest
	Outcome PairingOutcome
}

// pairingPayload is what gets sealed into a pairing row.
type pairingPayload struct {
	Peer string `json:"peer"`
	Name string `json:"name,omitempty"`
	Code string `json:"code"`
}

func (a *Access) seal(v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return a.codec.EncodeValue(plain)
}

func (a *Access) unseal(stored []byte, v any) error {
	plain, err := a.codec.DecodeValue(stored)
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, v)
}

// loadPairings unseals the pending requests of channel (all channels when
// empty), oldest first, expired ones included.
func (a *Access) loadPairings(ctx context.Context, channel string) ([]PairingRequest, error) {
	rows, err := a.db.ListPairings(ctx, channel)
	if err != nil {
		return nil, err
	}
	out := make([]PairingRequest, 0, len(rows))
	for _, r := range rows {
		var p pairingPayload
		if err := a.unseal(r.Sealed, &p); err != nil {
			return nil, fmt.Errorf("unseal pairing request %s: %w", r.ID, err)
		}
		out = append(out, PairingRequest{ID: r.ID, Channel: r.Channel, Peer: p.Peer, PeerName: p.Name,
			Code: p.Code, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt})
	}
	return out, nil
}

// liveLocked loads channel's requests, deletes the expired ones and returns
// the rest with the events for the deleted.
func (a *Access) liveLocked(ctx context.Context, channel string) ([]PairingRequest, []PairingEvent, error) {
	all, err := a.loadPairings(ctx, channel)
	if err != nil {
		return nil, nil, err
	}
	now := a.now()
	var (
		live    []PairingRequest
		expired []string
		evs     []PairingEvent
	)
	for _, p := range all {
		if now.Before(p.ExpiresAt) {
			live = append(live, p)
			continue
		}
		expired = append(expired, p.ID)
		evs = append(evs, PairingEvent{Kind: PairingResolved, Request: p, Outcome: PairingExpired})
	}
	if _, err := a.db.DeletePairings(ctx, expired...); err != nil {
		return nil, nil, err
	}
	return live, evs, nil
}

// requestPairingLocked handles a DM from a sender who is not allowed, under
// DMPairing.
func (a *Access) requestPairingLocked(ctx context.Context, r ChannelRules, in chat.Inbound) (AccessDecision, []PairingEvent, error) {
	live, evs, err := a.liveLocked(ctx, in.Channel)
	if err != nil {
		return drop(ReasonPairingPending), evs, err
	}
	for _, p := range live {
		if p.Peer == in.Peer {
			return drop(ReasonPairingPending), evs, nil
		}
	}

	// Make room: the oldest requests go, so a new stranger is always
	// answered even when old ones were never dealt with.
	var evict []string
	for len(live)-len(evict) >= r.MaxPendingPairings {
		old := live[len(evict)]
		evict = append(evict, old.ID)
		evs = append(evs, PairingEvent{Kind: PairingResolved, Request: old, Outcome: PairingEvicted})
	}
	now := a.now()
	req := PairingRequest{
		ID:        newRowID("pr_"),
		Channel:   in.Channel,
		Peer:      in.Peer,
		PeerName:  cleanName(in.PeerName),
		Code:      newCode(live),
		CreatedAt: now,
		ExpiresAt: now.Add(PairingTTL),
	}
	sealed, err := a.seal(pairingPayload{Peer: req.Peer, Name: req.PeerName, Code: req.Code})
	if err != nil {
		return drop(ReasonPairingRequested), evs[:len(evs)-len(evict)], fmt.Errorf("seal pairing request: %w", err)
	}
	row := store.PairingRow{ID: req.ID, Channel: req.Channel, CreatedAt: req.CreatedAt, ExpiresAt: req.ExpiresAt, Sealed: sealed}
	if err := a.db.AddPairing(ctx, row, evict); err != nil {
		return drop(ReasonPairingRequested), evs[:len(evs)-len(evict)], err
	}
	evs = append(evs, PairingEvent{Kind: PairingRequested, Request: req})
	return AccessDecision{Action: ActionReplyPairing, Reason: ReasonPairingRequested, Code: req.Code,
		Reply: PairingReply(req.Code)}, evs, nil
}

// newCode returns a fresh code that no live request of the channel uses.
func newCode(live []PairingRequest) string {
	for {
		c := randomCode()
		taken := false
		for _, p := range live {
			taken = taken || p.Code == c
		}
		if !taken {
			return c
		}
	}
}

// randomCode draws PairingCodeLength characters from crypto/rand. The
// alphabet has exactly 32 characters, so the low five bits of a random byte
// select one uniformly (256 is a multiple of 32): no modulo bias.
func randomCode() string {
	var b [PairingCodeLength]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	for i := range b {
		b[i] = PairingAlphabet[b[i]&31]
	}
	return string(b[:])
}

// normalizeCode upper-cases a code typed by the owner and checks its shape.
func normalizeCode(code string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(code))
	if len(c) != PairingCodeLength || strings.Trim(c, PairingAlphabet) != "" {
		return "", fmt.Errorf("%w: not a pairing code (want %d characters from %s)", ErrPairingNotFound, PairingCodeLength, PairingAlphabet)
	}
	return c, nil
}

func newRowID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// Pending returns the live pairing requests of channel (of every channel
// when channel is empty), oldest first. Expired requests are deleted on the
// way and reported as resolved.
func (a *Access) Pending(ctx context.Context, channel string) ([]PairingRequest, error) {
	a.mu.Lock()
	live, evs, err := a.liveLocked(ctx, channel)
	a.events.push(evs...)
	a.mu.Unlock()
	a.events.flush()
	if err != nil {
		return nil, fmt.Errorf("pending pairings: %w", err)
	}
	return live, nil
}

// PruneExpired deletes the expired requests of every channel, reports them
// as resolved and returns how many there were. Requests also expire lazily
// when a channel is next checked; calling this now and then (say every
// minute) clears stale notifications sooner.
func (a *Access) PruneExpired(ctx context.Context) (int, error) {
	a.mu.Lock()
	_, evs, err := a.liveLocked(ctx, "")
	a.events.push(evs...)
	a.mu.Unlock()
	a.events.flush()
	if err != nil {
		return 0, fmt.Errorf("prune pairings: %w", err)
	}
	return len(evs), nil
}

// Approve adds the sender of the pending request with code (matched
// case-insensitively) to channel's stored allowlist and returns the request.
// It fails with ErrPairingNotFound for an unknown code and ErrPairingExpired
// for one past its hour (which is then deleted).
func (a *Access) Approve(ctx context.Context, channel, code string) (PairingRequest, error) {
	return a.resolve(ctx, channel, code, PairingApproved)
}

// Deny deletes the pending request with code and returns it; the sender
// stays unknown (under DMPairing, their next message after this gets a new
// code). Errors are as for Approve.
func (a *Access) Deny(ctx context.Context, channel, code string) (PairingRequest, error) {
	return a.resolve(ctx, channel, code, PairingDenied)
}

func (a *Access) resolve(ctx context.Context, channel, code string, outcome PairingOutcome) (PairingRequest, error) {
	op := "approve pairing"
	if outcome == PairingDenied {
		op = "deny pairing"
	}
	if err := checkChannel(channel); err != nil {
		return PairingRequest{}, fmt.Errorf("%s: %w", op, err)
	}
	c, err := normalizeCode(code)
	if err != nil {
		return PairingRequest{}, fmt.Errorf("%s: %w", op, err)
	}
	a.mu.Lock()
	req, evs, err := a.resolveLocked(ctx, channel, c, outcome)
	a.events.push(evs...)
	a.mu.Unlock()
	a.events.flush()
	if err != nil {
		return PairingRequest{}, fmt.Errorf("%s %s: %w", op, channel, err)
	}
	return req, nil
}

func (a *Access) resolveLocked(ctx context.Context, channel, code string, outcome PairingOutcome) (PairingRequest, []PairingEvent, error) {
	all, err := a.loadPairings(ctx, channel)
	if err != nil {
		return PairingRequest{}, nil, err
	}
	i := -1
	for j, p := range all {
		if subtle.ConstantTimeCompare([]byte(p.Code), []byte(code)) == 1 {
			i = j
		}
	}
	if i < 0 {
		return PairingRequest{}, nil, ErrPairingNotFound
	}
	req := all[i]
	if !a.now().Before(req.ExpiresAt) {
		if _, err := a.db.DeletePairings(ctx, req.ID); err != nil {
			return PairingRequest{}, nil, err
		}
		ev := PairingEvent{Kind: PairingResolved, Request: req, Outcome: PairingExpired}
		return PairingRequest{}, []PairingEvent{ev}, fmt.Errorf("%w at %s; the sender must write again for a new code",
			ErrPairingExpired, req.ExpiresAt.Format(time.RFC3339))
	}

	if outcome == PairingDenied {
		n, err := a.db.DeletePairings(ctx, req.ID)
		if err != nil {
			return PairingRequest{}, nil, err
		}
		if n == 0 {
			return PairingRequest{}, nil, ErrPairingNotFound
		}
	} else if err := a.approveLocked(ctx, req); err != nil {
		return PairingRequest{}, nil, err
	}
	return req, []PairingEvent{{Kind: PairingResolved, Request: req, Outcome: outcome}}, nil
}

func (a *Access) approveLocked(ctx context.Context, req PairingRequest) error {
	allowed, err := a.loadAllowed(ctx, req.Channel)
	if err != nil {
		return err
	}
	for _, p := range allowed {
		if p.Peer == req.Peer { // added by hand meanwhile: just drop the request
			_, err := a.db.DeletePairings(ctx, req.ID)
			return err
		}
	}
	sealed, err := a.seal(allowPayload{Peer: req.Peer, Name: req.PeerName})
	if err != nil {
		return fmt.Errorf("seal allowlist entry: %w", err)
	}
	err = a.db.ApprovePairing(ctx, req.ID, store.AllowRow{ID: newRowID("al_"), Channel: req.Channel,
		CreatedAt: a.now(), Sealed: sealed})
	if errors.Is(err, store.ErrNotFound) {
		return ErrPairingNotFound
	}
	return err
}
