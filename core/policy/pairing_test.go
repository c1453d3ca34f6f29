package policy

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPairingFlow(t *testing.T) {
	h := newAccessHarness(t, nil, plainCodec{})
	ctx := t.Context()

	d, err := h.a.Check(ctx, dm("telegram", "42"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Action != ActionReplyPairing || !codePattern.MatchString(d.Code) {
		t.Fatalf("first message: %+v, want a pairing reply with a code", d)
	}
	wantReply := "Hi! I'm a private assistant. To talk with me, my owner needs to approve you. Your pairing code: " +
		d.Code + " (valid for 1 hour)."
	if d.Reply != wantReply {
		t.Errorf("reply = %q\nwant    %q", d.Reply, wantReply)
	}
	code := d.Code
	if d := cmp.Diff([]string{"requested 42"}, h.take()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}

	// Repeats get nothing: no new code, no reply, no event.
	for i := range 3 {
		h.advance(10 * time.Minute)
		d, err := h.a.Check(ctx, dm("telegram", "42"))
		if err != nil {
			t.Fatal(err)
		}
		if d != (AccessDecision{Action: ActionDrop, Reason: ReasonPairingPending}) {
			t.Errorf("repeat %d: %+v, want a silent drop", i, d)
		}
	}
	if ev := h.take(); len(ev) != 0 {
		t.Errorf("repeats raised events %v", ev)
	}
	pending, err := h.a.Pending(ctx, "telegram")
	if err != nil {
		t.Fatal(err)
	}
	want := []PairingRequest{{ID: pending[0].ID, Channel: "telegram", Peer: "42", PeerName: "Name of 42", Code: code,
		CreatedAt: accessStart, ExpiresAt: accessStart.Add(time.Hour)}}
	if d := cmp.Diff(want, pending); d != "" {
		t.Errorf("Pending (-want +got):\n%s", d)
	}

	// The owner approves, typing the code in lower case with spaces.
	req, err := h.a.Approve(ctx, "telegram", "  "+strings.ToLower(code)+" ")
	if err != nil {
		t.Fatal(err)
	}
	if req.Peer != "42" || req.Code != code {
		t.Errorf("Approve returned %+v", req)
	}
	if d := cmp.Diff([]string{"resolved 42 approved"}, h.take()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	d, err = h.a.Check(ctx, dm("telegram", "42"))
	if err != nil || d.Action != ActionDeliver || d.Reason != ReasonApproved {
		t.Fatalf("after approval: %+v, %v; want delivered", d, err)
	}
	if got, _ := h.a.Allowed(ctx, "telegram"); !slices.Equal(got, []string{"42"}) {
		t.Errorf("Allowed = %v", got)
	}
	peers, _ := h.a.AllowedPeers(ctx, "telegram")
	if d := cmp.Diff([]AllowedPeer{{Peer: "42", PeerName: "Name of 42", AddedAt: accessStart.Add(30 * time.Minute)}}, peers); d != "" {
		t.Errorf("AllowedPeers (-want +got):\n%s", d)
	}
	if p, _ := h.a.Pending(ctx, ""); len(p) != 0 {
		t.Errorf("still pending after approval: %+v", p)
	}
	// The approval is per channel.
	if d, _ := h.a.Check(ctx, dm("whatsapp", "42")); d.Action != ActionReplyPairing {
		t.Errorf("same id on another channel: %s, want a pairing reply", d.Action)
	}
	h.take()

	// A used code is gone.
	if _, err := h.a.Approve(ctx, "telegram", code); !errors.Is(err, ErrPairingNotFound) {
		t.Errorf("second Approve = %v, want ErrPairingNotFound", err)
	}

	// Revoking makes the peer a stranger again.
	if err := h.a.Revoke(ctx, "telegram", "42"); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"revoked 42"}, h.take()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if d, _ := h.a.Check(ctx, dm("telegram", "42")); d.Action != ActionReplyPairing {
		t.Errorf("after revoke: %s, want a pairing reply", d.Action)
	}
	if err := h.a.Revoke(ctx, "telegram", "42"); !errors.Is(err, ErrPeerNotAllowed) {
		t.Errorf("second Revoke = %v, want ErrPeerNotAllowed", err)
	}
}

func TestDeny(t *testing.T) {
	h := newAccessHarness(t, nil, plainCodec{})
	ctx := t.Context()
	d, _ := h.a.Check(ctx, dm("signal", "+100"))
	req, err := h.a.Deny(ctx, "signal", d.Code)
	if err != nil || req.Peer != "+100" {
		t.Fatalf("Deny = %+v, %v", req, err)
	}
	if d := cmp.Diff([]string{"requested +100", "resolved +100 denied"}, h.take()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if _, err := h.a.Approve(ctx, "signal", d.Code); !errors.Is(err, ErrPairingNotFound) {
		t.Errorf("Approve after Deny = %v, want ErrPairingNotFound", err)
	}
	if allowed, _ := h.a.Allowed(ctx, "signal"); len(allowed) != 0 {
		t.Errorf("denied peer allowed: %v", allowed)
	}
	// The denied sender is a stranger again: the next message asks anew.
	if d2, _ := h.a.Check(ctx, dm("signal", "+100")); d2.Action != ActionReplyPairing {
		t.Errorf("after deny: %s", d2.Action)
	}
}

func TestPairingExpiry(t *testing.T) {
	h := newAccessHarness(t, nil, plainCodec{})
	ctx := t.Context()
	d, _ := h.a.Check(ctx, dm("telegram", "1"))
	first := d.Code

	h.advance(59 * time.Minute)
	if d, _ := h.a.Check(ctx, dm("telegram", "1")); d.Action != ActionDrop {
		t.Errorf("at 59 min: %s, want still pending", d.Action)
	}
	h.advance(time.Minute)
	_, err := h.a.Approve(ctx, "telegram", first)
	if !errors.Is(err, ErrPairingExpired) || !strings.Contains(err.Error(), "write again") {
		t.Fatalf("Approve at 60 min = %v, want ErrPairingExpired", err)
	}
	if d := cmp.Diff([]string{"requested 1", "resolved 1 expired"}, h.take()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if _, err := h.a.Approve(ctx, "telegram", first); !errors.Is(err, ErrPairingNotFound) {
		t.Errorf("Approve of a pruned code = %v, want ErrPairingNotFound", err)
	}

	// An expired request is pruned when the sender writes again, and they
	// get a new code.
	d, _ = h.a.Check(ctx, dm("telegram", "2"))
	h.advance(2 * time.Hour)
	d2, err := h.a.Check(ctx, dm("telegram", "2"))
	if err != nil || d2.Action != ActionReplyPairing {
		t.Fatalf("after expiry: %+v, %v; want a new pairing reply", d2, err)
	}
	if d := cmp.Diff([]string{"requested 2", "resolved 2 expired", "requested 2"}, h.take()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	pending, _ := h.a.Pending(ctx, "telegram")
	if len(pending) != 1 || pending[0].Code != d2.Code || !pending[0].ExpiresAt.Equal(accessStart.Add(4*time.Hour)) {
		t.Errorf("Pending = %+v, want only the new request", pending)
	}

	// PruneExpired clears every channel.
	h.advance(time.Minute)
	h.a.Check(ctx, dm("slack", "U1"))
	h.take()
	h.advance(time.Hour)
	if n, err := h.a.PruneExpired(ctx); err != nil || n != 2 {
		t.Errorf("PruneExpired = %d, %v; want 2", n, err)
	}
	if d := cmp.Diff([]string{"resolved 2 expired", "resolved U1 expired"}, h.take()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestPairingEvictsOldest(t *testing.T) {
	h := newAccessHarness(t, nil, plainCodec{})
	ctx := t.Context()
	codes := map[string]string{}
	for _, p := range []string{"a", "b", "c", "d"} {
		d, err := h.a.Check(ctx, dm("telegram", p))
		if err != nil || d.Action != ActionReplyPairing {
			t.Fatalf("sender %s: %+v, %v; every new sender must get a code", p, d, err)
		}
		codes[p] = d.Code
		h.advance(time.Minute)
	}
	want := []string{"requested a", "requested b", "requested c", "resolved a evicted", "requested d"}
	if d := cmp.Diff(want, h.take()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	pending, _ := h.a.Pending(ctx, "telegram")
	var peers []string
	for _, p := range pending {
		peers = append(peers, p.Peer)
	}
	if d := cmp.Diff([]string{"b", "c", "d"}, peers); d != "" {
		t.Errorf("pending peers (-want +got):\n%s", d)
	}
	if _, err := h.a.Approve(ctx, "telegram", codes["a"]); !errors.Is(err, ErrPairingNotFound) {
		t.Errorf("Approve evicted code = %v, want ErrPairingNotFound", err)
	}
	if _, err := h.a.Approve(ctx, "telegram", codes["c"]); err != nil {
		t.Errorf("Approve c: %v", err)
	}
	codeSet := map[string]bool{}
	for _, c := range codes {
		codeSet[c] = true
	}
	if len(codeSet) != 4 {
		t.Errorf("codes not distinct: %v", codes)
	}

	// A limit of 1 keeps only the newest stranger.
	h2 := newAccessHarness(t, map[string]ChannelRules{"tg": {MaxPendingPairings: 1}}, plainCodec{})
	for _, p := range []string{"x", "y"} {
		if d, _ := h2.a.Check(ctx, dm("tg", p)); d.Action != ActionReplyPairing {
			t.Fatalf("sender %s not answered", p)
		}
	}
	if p, _ := h2.a.Pending(ctx, "tg"); len(p) != 1 || p[0].Peer != "y" {
		t.Errorf("Pending with limit 1 = %+v", p)
	}
}

func TestResolveRejectsBadInput(t *testing.T) {
	h := newAccessHarness(t, map[string]ChannelRules{"tg": {AllowFrom: []string{"cfg"}}}, plainCodec{})
	ctx := t.Context()
	tests := []struct {
		name          string
		channel, code string
		want          error
	}{
		{"short code", "tg", "ABC", ErrPairingNotFound},
		{"bad letters", "tg", "ABCD0O1I", ErrPairingNotFound},
		{"unknown code", "tg", "ABCD2345", ErrPairingNotFound},
		{"no channel", "", "ABCD2345", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []func() (PairingRequest, error){
				func() (PairingRequest, error) { return h.a.Approve(ctx, tt.channel, tt.code) },
				func() (PairingRequest, error) { return h.a.Deny(ctx, tt.channel, tt.code) },
			} {
				_, err := f()
				if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
			}
		})
	}
	err := h.a.Revoke(ctx, "tg", "cfg")
	if !errors.Is(err, ErrPeerNotAllowed) || !strings.Contains(err.Error(), "edit the config") {
		t.Errorf("Revoke of a config peer = %v", err)
	}
	if _, err := h.a.Allow(ctx, "tg", "", "x"); err == nil {
		t.Error("Allow with an empty peer succeeded")
	}
}

func TestAllowByHand(t *testing.T) {
	h := newAccessHarness(t, map[string]ChannelRules{"tg": {DM: DMAllowlist}}, plainCodec{})
	ctx := t.Context()
	if added, err := h.a.Allow(ctx, "tg", "7", "Bob\n\u202eadmin"); err != nil || !added {
		t.Fatalf("Allow = %v, %v", added, err)
	}
	if added, err := h.a.Allow(ctx, "tg", "7", "Bob"); err != nil || added {
		t.Fatalf("second Allow = %v, %v; want false", added, err)
	}
	peers, _ := h.a.AllowedPeers(ctx, "tg")
	if len(peers) != 1 || peers[0].PeerName != "Bob admin" {
		t.Errorf("AllowedPeers = %+v", peers)
	}
	if d, _ := h.a.Check(ctx, dm("tg", "7")); d.Action != ActionDeliver {
		t.Errorf("hand-allowed peer: %s", d.Action)
	}
}

func TestRandomCodeAlphabet(t *testing.T) {
	seen := map[rune]bool{}
	for range 500 {
		c := randomCode()
		if !codePattern.MatchString(c) {
			t.Fatalf("code %q outside the alphabet", c)
		}
		for _, r := range c {
			seen[r] = true
		}
	}
	// 4000 draws from 32 symbols: every symbol shows up unless the mapping
	// skips some.
	if len(seen) != len(PairingAlphabet) {
		t.Errorf("only %d of %d symbols drawn", len(seen), len(PairingAlphabet))
	}
}

// TestConcurrentStrangerGetsOneCode: a burst of messages from one stranger
// arriving on several goroutines still yields exactly one code.
func TestConcurrentStrangerGetsOneCode(t *testing.T) {
	h := newAccessHarness(t, nil, plainCodec{})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		replies int
	)
	for range 16 {
		wg.Go(func() {
			d, err := h.a.Check(t.Context(), dm("telegram", "spam"))
			if err != nil {
				t.Error(err)
			}
			if d.Action == ActionReplyPairing {
				mu.Lock()
				replies++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if replies != 1 {
		t.Errorf("%d pairing replies, want 1", replies)
	}
}

// TestOnEventMayCallBack: the event hook runs without Access's lock held.
func TestOnEventMayCallBack(t *testing.T) {
	db, _ := openDB(t)
	var (
		a    *Access
		seen []int
	)
	a, err := NewAccess(db, plainCodec{}, AccessOptions{OnEvent: func(e PairingEvent) {
		p, err := a.Pending(t.Context(), e.Request.Channel)
		if err != nil {
			t.Error(err)
		}
		seen = append(seen, len(p))
	}})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := a.Check(t.Context(), dm("tg", "1"))
	if _, err := a.Approve(t.Context(), "tg", d.Code); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{1, 0}, seen); d != "" {
		t.Errorf("pending seen from the hook (-want +got):\n%s", d)
	}
}
