package whatsapp

import (
	"path/filepath"
	"testing"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/store"
)

// plainValues stores values as they are; the sealed variant is covered in
// core/policy with a real vault.
type plainValues struct{}

func (plainValues) EncodeValue(p []byte) ([]byte, error) { return p, nil }
func (plainValues) DecodeValue(s []byte) ([]byte, error) { return s, nil }

// TestTranslatedMessagesThroughPolicy runs real whatsmeow events through
// the adapter's translation and then the gateway's access policy: a group
// message without a mention is dropped, with one it is delivered, and a
// stranger's DM gets a pairing code and nothing else.
func TestTranslatedMessagesThroughPolicy(t *testing.T) {
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "genos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	acc, err := policy.NewAccess(db, plainValues{}, policy.AccessOptions{Rules: map[string]policy.ChannelRules{
		Name: {Group: policy.GroupAllowlist, GroupAllowFrom: []string{group.String()}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAdapter(t, newSealer(t), Options{})
	fc := &fakeClient{}
	mention := &waE2E.ContextInfo{MentionedJID: []string{botPN.String()}}
	tests := []struct {
		name string
		ev   *events.Message
		want policy.AccessAction
	}{
		{"group without mention is dropped", inGroup(alice, text("hello everyone")), policy.ActionDrop},
		{"group with mention is delivered", inGroup(alice, extended("@bot what time is it?", mention)), policy.ActionDeliver},
		{"stranger DM gets a pairing code", dm(alice, text("hi, who are you?")), policy.ActionReplyPairing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, ok := a.translate(t.Context(), me, fc, tc.ev)
			if !ok {
				t.Fatal("the adapter dropped the message itself")
			}
			dec, err := acc.Check(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			if dec.Action != tc.want {
				t.Fatalf("policy = %s (%s), want %s", dec.Action, dec.Reason, tc.want)
			}
			if dec.Action == policy.ActionReplyPairing && len(dec.Code) != policy.PairingCodeLength {
				t.Fatalf("pairing code %q", dec.Code)
			}
		})
	}
}
