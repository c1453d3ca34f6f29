package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/genos-project/genos/core/chat"
)

// fakeClient records what the adapter sends and serves downloads.
type fakeClient struct {
	mu        sync.Mutex
	sent      []sentMsg
	uploads   []whatsmeow.MediaType
	presences []types.JID
	reads     []types.MessageID
	downloads map[string][]byte // by media URL
	sendErr   error
	n         int
}

type sentMsg struct {
	to  types.JID
	id  types.MessageID
	msg *waE2E.Message
}

func (f *fakeClient) GenerateMessageID() types.MessageID {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return fmt.Sprintf("OUT%d", f.n)
}

func (f *fakeClient) SendMessage(_ context.Context, to types.JID, msg *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return whatsmeow.SendResponse{}, f.sendErr
	}
	var id types.MessageID
	if len(extra) > 0 {
		id = extra[0].ID
	}
	f.sent = append(f.sent, sentMsg{to: to, id: id, msg: msg})
	return whatsmeow.SendResponse{ID: id, Timestamp: time.Unix(1, 0)}, nil
}

func (f *fakeClient) Upload(_ context.Context, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads = append(f.uploads, mt)
	return whatsmeow.UploadResponse{URL: "https://mmg.example/up", DirectPath: "/v/up", MediaKey: []byte("mk"), FileEncSHA256: []byte("enc"), FileSHA256: []byte("sha"), FileLength: uint64(len(data))}, nil
}

func (f *fakeClient) Download(_ context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	u, _ := msg.(interface{ GetURL() string })
	if data, ok := f.downloads[u.GetURL()]; ok {
		return data, nil
	}
	return nil, whatsmeow.ErrMediaDownloadFailedWith404
}

func (f *fakeClient) SendChatPresence(_ context.Context, jid types.JID, state types.ChatPresence, _ types.ChatPresenceMedia) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if state == types.ChatPresenceComposing {
		f.presences = append(f.presences, jid)
	}
	return nil
}

func (f *fakeClient) MarkRead(_ context.Context, ids []types.MessageID, _ time.Time, _, _ types.JID, _ ...types.ReceiptType) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads = append(f.reads, ids...)
	return nil
}

// The linked account in these tests.
var (
	botPN  = types.NewJID("15550009999", types.DefaultUserServer)
	botLID = types.NewJID("555000", types.HiddenUserServer)
	me     = self{pn: botPN, lid: botLID}
	alice  = types.NewJID("4915112345678", types.DefaultUserServer)
	group  = types.NewJID("120363025246125486", types.GroupServer)
)

func dm(from types.JID, msg *waE2E.Message) *events.Message {
	return &events.Message{Info: types.MessageInfo{
		MessageSource: types.MessageSource{Chat: from, Sender: from},
		ID:            "IN1", PushName: "Alice", Timestamp: time.Unix(100, 0),
	}, Message: msg}
}

func inGroup(from types.JID, msg *waE2E.Message) *events.Message {
	e := dm(from, msg)
	e.Info.Chat, e.Info.IsGroup = group, true
	e.Info.Sender = types.JID{User: from.User, Device: 4, Server: from.Server}
	return e
}

func text(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }

func extended(s string, ci *waE2E.ContextInfo) *waE2E.Message {
	return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(s), ContextInfo: ci}}
}

func TestTranslate(t *testing.T) {
	img := &waE2E.Message{ImageMessage: &waE2E.ImageMessage{URL: proto.String("https://m/img"), Mimetype: proto.String("image/jpeg"),
		Caption: proto.String("look at this"), FileLength: proto.Uint64(3)}}
	voice := &waE2E.Message{AudioMessage: &waE2E.AudioMessage{URL: proto.String("https://m/ptt"), Mimetype: proto.String("audio/ogg; codecs=opus"),
		PTT: proto.Bool(true), Seconds: proto.Uint32(7), FileLength: proto.Uint64(4)}}
	doc := &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{URL: proto.String("https://m/doc"), Mimetype: proto.String("application/pdf"),
		FileName: proto.String("../../etc/report\x00.pdf"), FileLength: proto.Uint64(2)}}
	huge := &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{URL: proto.String("https://m/huge"), Mimetype: proto.String("application/zip"),
		FileName: proto.String("big.zip"), FileLength: proto.Uint64(1 << 40)}}
	gone := &waE2E.Message{ImageMessage: &waE2E.ImageMessage{URL: proto.String("https://m/gone"), Mimetype: proto.String("image/png")}}
	lidSender := types.NewJID("98765", types.HiddenUserServer)
	ext := func(m *waE2E.Message) *waE2E.Message { return m }

	base := chat.Inbound{Channel: Name, Account: botPN.User, Peer: alice.User, PeerName: "Alice", MessageID: "IN1",
		Provenance: chat.Provenance{Kind: chat.ExternalUser, Channel: Name, Sender: alice.User}}
	with := func(change func(*chat.Inbound)) *chat.Inbound {
		in := base
		change(&in)
		return &in
	}
	tests := []struct {
		name string
		evt  *events.Message
		want *chat.Inbound // nil: dropped
	}{
		{"dm text", dm(alice, text("hi")), with(func(in *chat.Inbound) { in.Text = "hi" })},
		{"dm extended text", dm(alice, extended("hello", nil)), with(func(in *chat.Inbound) { in.Text = "hello" })},
		{"dm from a lid with its phone known", func() *events.Message {
			e := dm(lidSender, text("x"))
			e.Info.SenderAlt = alice
			return e
		}(), with(func(in *chat.Inbound) { in.Text = "x" })},
		{"dm from a lid alone keeps the jid", dm(lidSender, text("x")), with(func(in *chat.Inbound) {
			in.Text, in.Peer, in.Provenance.Sender = "x", "98765@lid", "98765@lid"
		})},
		{"group without mention", inGroup(alice, text("chatter")), with(func(in *chat.Inbound) {
			in.Text, in.Group = "chatter", group.String()
		})},
		{"group mention by phone", inGroup(alice, extended("@bot do it", &waE2E.ContextInfo{MentionedJID: []string{botPN.String()}})),
			with(func(in *chat.Inbound) { in.Text, in.Group, in.Mentioned = "@bot do it", group.String(), true })},
		{"group mention by lid", inGroup(alice, extended("@bot", &waE2E.ContextInfo{MentionedJID: []string{"555000@lid"}})),
			with(func(in *chat.Inbound) { in.Text, in.Group, in.Mentioned = "@bot", group.String(), true })},
		{"group mention of someone else", inGroup(alice, extended("@bob", &waE2E.ContextInfo{MentionedJID: []string{"111@s.whatsapp.net"}})),
			with(func(in *chat.Inbound) { in.Text, in.Group = "@bob", group.String() })},
		{"group reply to the bot", inGroup(alice, extended("yes", &waE2E.ContextInfo{StanzaID: proto.String("OUT1"), Participant: proto.String("15550009999:3@s.whatsapp.net")})),
			with(func(in *chat.Inbound) { in.Text, in.Group, in.Mentioned = "yes", group.String(), true })},
		{"image with caption", dm(alice, img), with(func(in *chat.Inbound) {
			in.Text = "look at this"
			in.Attachments = []chat.Attachment{{Name: "image-IN1.jpg", MIME: "image/jpeg", Size: 3, Data: []byte("IMG"), Caption: "look at this"}}
		})},
		{"voice note", dm(alice, voice), with(func(in *chat.Inbound) {
			in.Attachments = []chat.Attachment{{Name: "voice-IN1.ogg", MIME: "audio/ogg; codecs=opus", Size: 4, Data: []byte("OPUS"), Duration: 7000}}
		})},
		{"document name made safe", dm(alice, doc), with(func(in *chat.Inbound) {
			in.Attachments = []chat.Attachment{{Name: "report.pdf", MIME: "application/pdf", Size: 2, Data: []byte("PD")}}
		})},
		{"document over the cap", dm(alice, huge), with(func(in *chat.Inbound) {
			in.Text = noteTooLarge
			in.Attachments = []chat.Attachment{{Name: "big.zip", MIME: "application/zip", Size: 1 << 40}}
		})},
		{"download fails", dm(alice, gone), with(func(in *chat.Inbound) {
			in.Text = noteUnavailable
			in.Attachments = []chat.Attachment{{Name: "image-IN1.png", MIME: "image/png"}}
		})},
		{"owner's message to yourself", func() *events.Message {
			e := dm(types.JID{User: botPN.User, Server: botPN.Server}, text("note to self"))
			e.Info.IsFromMe = true
			return e
		}(), with(func(in *chat.Inbound) {
			in.Text, in.Peer, in.Provenance.Sender = "note to self", botPN.User, botPN.User
		})},
		{"owner writing to someone else", func() *events.Message {
			e := dm(alice, text("mine"))
			e.Info.IsFromMe, e.Info.Sender = true, botPN
			return e
		}(), nil},
		{"owner in a group", func() *events.Message {
			e := inGroup(botPN, text("mine"))
			e.Info.IsFromMe = true
			return e
		}(), nil},
		{"echo of our own reply", func() *events.Message {
			e := dm(botPN, text("reply"))
			e.Info.IsFromMe, e.Info.ID = true, "OUT-ECHO"
			return e
		}(), nil},
		{"status update", func() *events.Message {
			e := dm(alice, text("story"))
			e.Info.Chat = types.StatusBroadcastJID
			return e
		}(), nil},
		{"edit", func() *events.Message { e := dm(alice, text("fixed")); e.IsEdit = true; return e }(), nil},
		{"sticker only", dm(alice, ext(&waE2E.Message{StickerMessage: &waE2E.StickerMessage{}})), nil},
		{"empty", dm(alice, &waE2E.Message{}), nil},
	}
	a := newTestAdapter(t, newSealer(t), Options{MaxDownloadBytes: 1 << 20})
	a.sent.add("OUT-ECHO")
	fc := &fakeClient{downloads: map[string][]byte{"https://m/img": []byte("IMG"), "https://m/ptt": []byte("OPUS"), "https://m/doc": []byte("PD")}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := a.translate(t.Context(), me, fc, tc.evt)
			if tc.want == nil {
				if ok {
					t.Fatalf("delivered %+v, want it dropped", got)
				}
				return
			}
			if !ok {
				t.Fatal("dropped, want it delivered")
			}
			if diff := cmp.Diff(*tc.want, got); diff != "" {
				t.Errorf("inbound (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTranslateSaveFile(t *testing.T) {
	var saved []string
	save := func(_ context.Context, name string, data []byte) (string, error) {
		if string(data) == "FAIL" {
			return "", errors.New("disk full")
		}
		saved = append(saved, name)
		return "/media/" + name, nil
	}
	a := newTestAdapter(t, newSealer(t), Options{SaveFile: save})
	fc := &fakeClient{downloads: map[string][]byte{"https://m/1": []byte("OK"), "https://m/2": []byte("FAIL")}}
	img := func(url string) *waE2E.Message {
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{URL: proto.String(url), Mimetype: proto.String("image/webp")}}
	}
	in, _ := a.translate(t.Context(), me, fc, dm(alice, img("https://m/1")))
	if att := in.Attachments[0]; att.Path != "/media/image-IN1.webp" || att.Data != nil || att.Size != 2 {
		t.Errorf("saved attachment = %+v", att)
	}
	in, _ = a.translate(t.Context(), me, fc, dm(alice, img("https://m/2")))
	if in.Text != noteUnsaved || in.Attachments[0].Path != "" {
		t.Errorf("unsaved attachment: text %q, %+v", in.Text, in.Attachments[0])
	}
}

// TestHandleEventDelivers runs a real whatsmeow event through the
// adapter's handler: delivery, health, and the read receipt.
func TestHandleEventDelivers(t *testing.T) {
	a := newTestAdapter(t, newSealer(t), Options{ReadReceipts: true})
	c := a.client()
	jid := types.JID{User: botPN.User, Device: 5, Server: types.DefaultUserServer}
	c.Store.ID = &jid
	fc := &fakeClient{}
	var got []chat.Inbound
	a.mu.Lock()
	a.wa, a.runCtx = fc, t.Context()
	a.deliver = func(_ context.Context, in chat.Inbound) error {
		got = append(got, in)
		return nil
	}
	a.mu.Unlock()

	a.handleEvent(c, dm(alice, text("ping")))
	a.handleEvent(c, &events.Connected{})
	if len(got) != 1 || got[0].Text != "ping" || got[0].Account != botPN.User {
		t.Fatalf("delivered %+v", got)
	}
	if diff := cmp.Diff([]types.MessageID{"IN1"}, fc.reads); diff != "" {
		t.Errorf("read receipts (-want +got):\n%s", diff)
	}
	st := a.Status()
	if st.State != chat.ChannelConnected || st.Account != botPN.User || st.LastInbound.IsZero() {
		t.Errorf("status = %+v", st)
	}
	// Events of a replaced client are ignored.
	old := c
	a.forgetDevice()
	a.handleEvent(old, dm(alice, text("stale")))
	if len(got) != 1 {
		t.Errorf("a replaced client's message was delivered")
	}
}

func TestCappedClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := strings.Repeat("x", 100)
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length: the body itself is capped
		} else {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		}
		io.WriteString(w, body)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		path, query string
		limit       int64
		ok          bool
	}{
		{"/sized", "", 100 - mediaOverhead, true},
		{"/sized", "", 99 - mediaOverhead, false},
		{"/chunked", "?mms-type=image", 100 - mediaOverhead, true},
		{"/chunked", "?mms-type=document", 50 - mediaOverhead, false},
		{"/chunked", "?mms-type=md-app-state", 50 - mediaOverhead, true}, // whatsmeow's own sync data
	} {
		t.Run(fmt.Sprint(tc.path, tc.query, tc.limit), func(t *testing.T) {
			resp, err := cappedClient(tc.limit).Get(srv.URL + tc.path + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			data, err := io.ReadAll(resp.Body)
			if tc.ok && (err != nil || len(data) != 100) {
				t.Errorf("read %d bytes, %v; want all 100", len(data), err)
			}
			if !tc.ok && !errors.Is(err, errBodyTooLarge) {
				t.Errorf("read error = %v, want errBodyTooLarge", err)
			}
		})
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":             "report.pdf",
		"../../etc/passwd":       "passwd",
		`C:\Users\a\evil.exe`:    "evil.exe",
		"bad\x00na\nme.txt":      "badname.txt",
		"..":                     "",
		"":                       "",
		strings.Repeat("é", 100): strings.Repeat("é", 64),
	} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}
