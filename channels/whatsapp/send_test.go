package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/genos-project/genos/channels"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/gateway"
)

// The adapter is what the gateway expects of a WhatsApp channel.
var (
	_ gateway.Channel        = (*Adapter)(nil)
	_ gateway.TypingChannel  = (*Adapter)(nil)
	_ gateway.QRLoginChannel = (*Adapter)(nil)
)

// linkedAdapter returns an adapter that believes it is linked, sending
// through a fake client.
func linkedAdapter(t *testing.T) (*Adapter, *fakeClient) {
	t.Helper()
	a := newTestAdapter(t, newSealer(t), Options{})
	jid := types.JID{User: botPN.User, Device: 5, Server: types.DefaultUserServer}
	a.client().Store.ID = &jid
	fc := &fakeClient{}
	a.mu.Lock()
	a.wa = fc
	a.mu.Unlock()
	return a, fc
}

func TestSendSplitsLongText(t *testing.T) {
	a, fc := linkedAdapter(t)
	var paras []string
	for i := range 6 {
		paras = append(paras, fmt.Sprintf("Paragraph %d. ", i)+strings.Repeat("word ", 300))
	}
	md := strings.Join(paras, "\n\n")
	if err := a.Send(t.Context(), chat.Outbound{Channel: Name, Peer: alice.User, Text: md}); err != nil {
		t.Fatal(err)
	}
	if len(fc.sent) < 2 {
		t.Fatalf("sent %d messages for %d runes, want it split", len(fc.sent), utf8.RuneCountInString(md))
	}
	var all strings.Builder
	for i, s := range fc.sent {
		body := s.msg.GetConversation()
		if n := utf8.RuneCountInString(body); n == 0 || n > channels.WhatsAppChunk {
			t.Errorf("message %d has %d runes, limit %d", i, n, channels.WhatsAppChunk)
		}
		if s.to != alice {
			t.Errorf("message %d went to %v, want %v", i, s.to, alice)
		}
		if !a.sent.has(s.id) {
			t.Errorf("message %d id %q not remembered as ours", i, s.id)
		}
		all.WriteString(body)
	}
	for i := range paras {
		if !strings.Contains(all.String(), fmt.Sprintf("Paragraph %d.", i)) {
			t.Errorf("paragraph %d missing from what was sent", i)
		}
	}
}

func TestSendRecipients(t *testing.T) {
	tests := []struct {
		name string
		out  chat.Outbound
		want types.JID
		err  bool
	}{
		{"phone", chat.Outbound{Peer: "4915112345678"}, alice, false},
		{"phone with plus", chat.Outbound{Peer: "+4915112345678"}, alice, false},
		{"lid peer", chat.Outbound{Peer: "98765@lid"}, types.NewJID("98765", types.HiddenUserServer), false},
		{"device jid drops device", chat.Outbound{Peer: "4915112345678:3@s.whatsapp.net"}, alice, false},
		{"group wins over peer", chat.Outbound{Peer: alice.User, Group: group.String()}, group, false},
		{"empty", chat.Outbound{}, types.JID{}, true},
		{"letters", chat.Outbound{Peer: "alice"}, types.JID{}, true},
		{"group that is a user", chat.Outbound{Group: alice.String()}, types.JID{}, true},
		{"broadcast", chat.Outbound{Peer: "status@broadcast"}, types.JID{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, fc := linkedAdapter(t)
			tc.out.Text = "hi"
			err := a.Send(t.Context(), tc.out)
			if tc.err {
				if channels.KindOf(err) != channels.KindPermanent {
					t.Fatalf("Send = %v, want a permanent error", err)
				}
				return
			}
			if err != nil || len(fc.sent) != 1 || fc.sent[0].to != tc.want {
				t.Fatalf("Send = %v, sent %+v; want one message to %v", err, fc.sent, tc.want)
			}
		})
	}
}

func TestSendAttachments(t *testing.T) {
	a, fc := linkedAdapter(t)
	out := chat.Outbound{Peer: alice.User, Text: "done", Attachments: []chat.Attachment{
		{Name: "chart.png", MIME: "image/png", Data: []byte("PNG"), Caption: "the chart"},
		{Name: "reply.ogg", MIME: "audio/ogg", Data: []byte("OGG"), Duration: 4200},
		{Name: "../notes.txt", MIME: "text/plain", Data: []byte("TXT")},
	}}
	if err := a.Send(t.Context(), out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]whatsmeow.MediaType{whatsmeow.MediaImage, whatsmeow.MediaAudio, whatsmeow.MediaDocument}, fc.uploads); diff != "" {
		t.Errorf("uploads (-want +got):\n%s", diff)
	}
	if len(fc.sent) != 4 {
		t.Fatalf("sent %d messages, want 3 attachments and the text", len(fc.sent))
	}
	im, au, doc := fc.sent[0].msg.GetImageMessage(), fc.sent[1].msg.GetAudioMessage(), fc.sent[2].msg.GetDocumentMessage()
	switch {
	case im.GetCaption() != "the chart" || im.GetDirectPath() != "/v/up" || string(im.GetMediaKey()) != "mk" || im.GetFileLength() != 3:
		t.Errorf("image message = %v", im)
	case !au.GetPTT() || au.GetSeconds() != 4:
		t.Errorf("audio message = %v", au)
	case doc.GetFileName() != "notes.txt" || doc.GetMimetype() != "text/plain":
		t.Errorf("document message = %v", doc)
	case fc.sent[3].msg.GetConversation() != "done":
		t.Errorf("text = %v", fc.sent[3].msg)
	}

	for _, att := range []chat.Attachment{{Name: "x", Path: "/sealed/x"}, {Name: "empty"}} {
		if err := a.Send(t.Context(), chat.Outbound{Peer: alice.User, Attachments: []chat.Attachment{att}}); channels.KindOf(err) != channels.KindPermanent {
			t.Errorf("attachment %+v: Send = %v, want permanent", att, err)
		}
	}
}

func TestSendClassifiesErrors(t *testing.T) {
	tests := []struct {
		err  error
		want channels.Kind
	}{
		{&whatsmeow.IQError{Code: 429, Text: "rate-overlimit"}, channels.KindRateLimited},
		{&whatsmeow.IQError{Code: 403, Text: "forbidden"}, channels.KindPermanent},
		{&whatsmeow.IQError{Code: 503}, channels.KindTemporary},
		{whatsmeow.ErrIQTimedOut, channels.KindTemporary},
		{whatsmeow.ErrNotConnected, channels.KindTemporary},
		{fmt.Errorf("%w 479", whatsmeow.ErrServerReturnedError), channels.KindPermanent},
		{context.Canceled, channels.KindPermanent},
	}
	for _, tc := range tests {
		t.Run(tc.err.Error(), func(t *testing.T) {
			a, fc := linkedAdapter(t)
			fc.sendErr = tc.err
			err := a.Send(t.Context(), chat.Outbound{Peer: alice.User, Text: "x"})
			if got := channels.KindOf(err); got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("Send = %v (%s), want %s wrapping the cause", err, got, tc.want)
			}
		})
	}
	t.Run("not linked", func(t *testing.T) {
		a := newTestAdapter(t, newSealer(t), Options{})
		if err := a.Send(t.Context(), chat.Outbound{Peer: alice.User, Text: "x"}); channels.KindOf(err) != channels.KindPermanent {
			t.Errorf("Send = %v, want permanent", err)
		}
	})
}

func TestTyping(t *testing.T) {
	a, fc := linkedAdapter(t)
	if err := a.Typing(t.Context(), chat.Outbound{Group: group.String()}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]types.JID{group}, fc.presences); diff != "" {
		t.Errorf("composing sent to (-want +got):\n%s", diff)
	}
}

func TestNewValidates(t *testing.T) {
	for name, opts := range map[string]Options{
		"no path":          {Sealer: newSealer(t)},
		"no sealer":        {StorePath: t.TempDir() + "/x"},
		"negative maximum": {StorePath: t.TempDir() + "/x", Sealer: newSealer(t), MaxDownloadBytes: -1},
	} {
		if _, err := New(t.Context(), opts); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	a := newTestAdapter(t, newSealer(t), Options{})
	if a.Name() != "whatsapp" || a.Linked() || a.Status().State != chat.ChannelStopped {
		t.Errorf("fresh adapter: name %q linked %v state %s", a.Name(), a.Linked(), a.Status().State)
	}
}
