package policy

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/store"
)

// plainCodec stores values as they are (no vault), for the logic tests.
type plainCodec struct{}

func (plainCodec) EncodeValue(p []byte) ([]byte, error) { return slices.Clone(p), nil }
func (plainCodec) DecodeValue(s []byte) ([]byte, error) { return slices.Clone(s), nil }

var accessStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// accessHarness is an Access on a fresh database with a manual clock whose
// events are recorded.
type accessHarness struct {
	a    *Access
	db   *store.DB
	path string

	mu     sync.Mutex
	now    time.Time
	events []PairingEvent
}

func openDB(t *testing.T) (*store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "genos.db")
	db, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

func newAccessHarness(t *testing.T, rules map[string]ChannelRules, codec ValueCodec) *accessHarness {
	t.Helper()
	db, path := openDB(t)
	h := &accessHarness{db: db, path: path, now: accessStart}
	a, err := NewAccess(db, codec, AccessOptions{
		Rules: rules,
		Now: func() time.Time {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.now
		},
		OnEvent: func(e PairingEvent) {
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.a = a
	return h
}

func (h *accessHarness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

// take returns the events recorded since the last call, as kind/outcome/peer
// triples that are easy to compare.
func (h *accessHarness) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.events {
		s := string(e.Kind) + " " + e.Request.Peer
		if e.Outcome != "" {
			s += " " + string(e.Outcome)
		}
		out = append(out, s)
	}
	h.events = nil
	return out
}

func dm(channel, peer string) chat.Inbound {
	return chat.Inbound{Channel: channel, Peer: peer, PeerName: "Name of " + peer, Text: "hello"}
}

func groupMsg(channel, group, peer string, mentioned bool) chat.Inbound {
	return chat.Inbound{Channel: channel, Peer: peer, Group: group, Mentioned: mentioned, Text: "hi all"}
}

func boolPtr(b bool) *bool { return &b }

var codePattern = regexp.MustCompile(`^[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$`)

func TestChannelRulesValidate(t *testing.T) {
	tests := []struct {
		name  string
		rules ChannelRules
		want  []string // substrings of the error; nil means valid
	}{
		{"zero value", ChannelRules{}, nil},
		{"all set", ChannelRules{DM: DMAllowlist, AllowFrom: []string{"1", "2"}, Group: GroupOpen,
			GroupAllowFrom: []string{"g"}, RequireMention: boolPtr(false), MaxPendingPairings: 10}, nil},
		{"open with star", ChannelRules{DM: DMOpen, AllowFrom: []string{"*"}}, nil},
		{"open without star", ChannelRules{DM: DMOpen, AllowFrom: []string{"1"}}, []string{`"open" requires "*"`}},
		{"open without allowFrom", ChannelRules{DM: DMOpen}, []string{`requires "*"`}},
		{"unknown dm", ChannelRules{DM: "public"}, []string{`dm: unknown policy "public"`}},
		{"unknown group", ChannelRules{Group: "pairing"}, []string{`group: unknown policy "pairing"`}},
		{"empty id", ChannelRules{AllowFrom: []string{""}}, []string{"allowFrom[0]: empty id"}},
		{"spaced id", ChannelRules{GroupAllowFrom: []string{" g"}}, []string{"groupAllowFrom[0]: id \" g\" has surrounding spaces"}},
		{"long id", ChannelRules{AllowFrom: []string{strings.Repeat("1", 300)}}, []string{"longer than 256"}},
		{"negative pending", ChannelRules{MaxPendingPairings: -1}, []string{"maxPendingPairings: -1 out of range"}},
		{"huge pending", ChannelRules{MaxPendingPairings: 51}, []string{"out of range"}},
		{"several problems joined", ChannelRules{DM: "x", Group: "y", MaxPendingPairings: -3},
			[]string{"dm: unknown", "group: unknown", "maxPendingPairings"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.rules.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %q, missing %q", err, w)
				}
			}
		})
	}
}

func TestNewAccessRejectsBadRules(t *testing.T) {
	db, _ := openDB(t)
	_, err := NewAccess(db, plainCodec{}, AccessOptions{Rules: map[string]ChannelRules{
		"telegram": {DM: DMOpen},
		"":         {},
	}})
	if err == nil || !strings.Contains(err.Error(), "channel rules telegram") || !strings.Contains(err.Error(), "empty channel name") {
		t.Fatalf("NewAccess = %v, want both problems", err)
	}
	if _, err := NewAccess(nil, plainCodec{}, AccessOptions{}); err == nil {
		t.Error("NewAccess(nil db) succeeded")
	}

	// SetRules with a bad channel keeps the old rules.
	a, err := NewAccess(db, plainCodec{}, AccessOptions{Rules: map[string]ChannelRules{"slack": {DM: DMDisabled}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetRules(map[string]ChannelRules{"slack": {DM: "nope"}}); err == nil {
		t.Fatal("SetRules accepted an unknown policy")
	}
	if got := a.Rules("slack").DM; got != DMDisabled {
		t.Errorf("rules after failed SetRules: DM = %q, want disabled", got)
	}
	if got := a.Rules("other"); got.DM != DMPairing || got.Group != GroupAllowlist || got.MaxPendingPairings != 3 || !got.MentionRequired() {
		t.Errorf("defaults for an unconfigured channel = %+v", got)
	}
}

// TestCheckPolicies covers every branch of Check except the pairing
// bookkeeping, which has its own tests.
func TestCheckPolicies(t *testing.T) {
	tests := []struct {
		name   string
		rules  ChannelRules
		stored []string // peers in the stored allowlist
		in     chat.Inbound
		action AccessAction
		reason string
		err    bool
	}{
		{"empty peer", ChannelRules{}, nil, dm("tg", ""), ActionDrop, ReasonInvalid, true},
		{"empty channel", ChannelRules{}, nil, dm("", "1"), ActionDrop, ReasonInvalid, true},
		{"oversized peer", ChannelRules{}, nil, dm("tg", strings.Repeat("9", 300)), ActionDrop, ReasonInvalid, true},
		{"invalid utf8 peer", ChannelRules{}, nil, dm("tg", "\xff"), ActionDrop, ReasonInvalid, true},

		{"dm disabled drops even allowFrom", ChannelRules{DM: DMDisabled, AllowFrom: []string{"1"}}, []string{"1"},
			dm("tg", "1"), ActionDrop, ReasonDMDisabled, false},
		{"dm open delivers strangers", ChannelRules{DM: DMOpen, AllowFrom: []string{"*"}}, nil,
			dm("tg", "9"), ActionDeliver, ReasonDMOpen, false},
		{"allowlist: in allowFrom", ChannelRules{DM: DMAllowlist, AllowFrom: []string{"1"}}, nil,
			dm("tg", "1"), ActionDeliver, ReasonAllowFrom, false},
		{"allowlist: star in allowFrom", ChannelRules{DM: DMAllowlist, AllowFrom: []string{"*"}}, nil,
			dm("tg", "7"), ActionDeliver, ReasonAllowFrom, false},
		{"allowlist: approved earlier", ChannelRules{DM: DMAllowlist}, []string{"5"},
			dm("tg", "5"), ActionDeliver, ReasonApproved, false},
		{"allowlist: stranger dropped silently", ChannelRules{DM: DMAllowlist, AllowFrom: []string{"1"}}, []string{"5"},
			dm("tg", "6"), ActionDrop, ReasonNotAllowed, false},
		{"allowlist: ids match exactly", ChannelRules{DM: DMAllowlist, AllowFrom: []string{"abc"}}, nil,
			dm("tg", "ABC"), ActionDrop, ReasonNotAllowed, false},
		{"pairing: in allowFrom", ChannelRules{AllowFrom: []string{"1"}}, nil,
			dm("tg", "1"), ActionDeliver, ReasonAllowFrom, false},
		{"pairing: approved earlier", ChannelRules{DM: DMPairing}, []string{"5"},
			dm("tg", "5"), ActionDeliver, ReasonApproved, false},
		{"pairing: stranger gets a code", ChannelRules{}, nil,
			dm("tg", "6"), ActionReplyPairing, ReasonPairingRequested, false},

		{"group disabled", ChannelRules{Group: GroupDisabled, GroupAllowFrom: []string{"g"}}, nil,
			groupMsg("tg", "g", "1", true), ActionDrop, ReasonGroupDisabled, false},
		{"group allowlist by default: unlisted", ChannelRules{}, nil,
			groupMsg("tg", "g", "1", true), ActionDrop, ReasonGroupNotAllowed, false},
		{"group allowlist: listed and mentioned", ChannelRules{GroupAllowFrom: []string{"g"}}, nil,
			groupMsg("tg", "g", "stranger", true), ActionDeliver, ReasonGroupAllowed, false},
		{"group allowlist: listed, not mentioned", ChannelRules{GroupAllowFrom: []string{"g"}}, nil,
			groupMsg("tg", "g", "1", false), ActionDrop, ReasonGroupNotMentioned, false},
		{"group allowlist: mention not required", ChannelRules{GroupAllowFrom: []string{"g"}, RequireMention: boolPtr(false)}, nil,
			groupMsg("tg", "g", "1", false), ActionDeliver, ReasonGroupAllowed, false},
		{"group allowlist: explicit mention required", ChannelRules{GroupAllowFrom: []string{"g"}, RequireMention: boolPtr(true)}, nil,
			groupMsg("tg", "g", "1", false), ActionDrop, ReasonGroupNotMentioned, false},
		{"group allowlist: star", ChannelRules{Group: GroupAllowlist, GroupAllowFrom: []string{"*"}}, nil,
			groupMsg("tg", "any", "1", true), ActionDeliver, ReasonGroupAllowed, false},
		{"group open, mentioned", ChannelRules{Group: GroupOpen}, nil,
			groupMsg("tg", "g2", "1", true), ActionDeliver, ReasonGroupAllowed, false},
		{"group open, not mentioned", ChannelRules{Group: GroupOpen}, nil,
			groupMsg("tg", "g2", "1", false), ActionDrop, ReasonGroupNotMentioned, false},
		{"group ignores dm disabled", ChannelRules{DM: DMDisabled, Group: GroupOpen}, nil,
			groupMsg("tg", "g2", "1", true), ActionDeliver, ReasonGroupAllowed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newAccessHarness(t, map[string]ChannelRules{"tg": tt.rules}, plainCodec{})
			for _, p := range tt.stored {
				if _, err := h.a.Allow(t.Context(), "tg", p, ""); err != nil {
					t.Fatal(err)
				}
			}
			d, err := h.a.Check(t.Context(), tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("Check error = %v, want error %v", err, tt.err)
			}
			if d.Action != tt.action || d.Reason != tt.reason {
				t.Errorf("Check = %s/%s, want %s/%s", d.Action, d.Reason, tt.action, tt.reason)
			}
			if d.Action != ActionReplyPairing && (d.Code != "" || d.Reply != "") {
				t.Errorf("Check set Code %q / Reply %q without a pairing reply", d.Code, d.Reply)
			}
			if strings.Contains(d.Reason, tt.in.Text) {
				t.Errorf("reason %q contains the message text", d.Reason)
			}
			// Only the pairing branch may create a request.
			pending, err := h.a.Pending(t.Context(), "tg")
			if err != nil {
				t.Fatal(err)
			}
			if wantPending := tt.action == ActionReplyPairing; (len(pending) == 1) != wantPending || len(pending) > 1 {
				t.Errorf("pending requests = %d after %s", len(pending), tt.action)
			}
		})
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Alice", "Alice"},
		{"  Alice \t Smith\n", "Alice Smith"},
		{"evil\u202egnp.exe", "evil gnp.exe"},
		{"bad\xffutf8", "badutf8"},
		{strings.Repeat("é", 100), strings.Repeat("é", maxNameRunes)},
		{"", ""},
	}
	for _, tt := range tests {
		if got := cleanName(tt.in); got != tt.want {
			t.Errorf("cleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
