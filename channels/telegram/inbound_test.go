package telegram

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/go-telegram/bot/models"
	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/channels/telegram/telegramtest"
	"github.com/genos-project/genos/core/chat"
)

func TestInboundAddressing(t *testing.T) {
	t.Parallel()
	me := identity{id: botID, username: botName}
	bob := &models.User{ID: 777, FirstName: "Bob", Username: "bobby"}
	group := models.Chat{ID: -100500, Type: models.ChatTypeSupergroup}
	forum := models.Chat{ID: -100600, Type: models.ChatTypeSupergroup, IsForum: true}
	botMsg := &models.Message{ID: 10, From: &models.User{ID: botID, IsBot: true, Username: botName}, Chat: group, Text: "earlier reply"}
	mention := func(off, n int) []models.MessageEntity {
		return []models.MessageEntity{{Type: models.MessageEntityTypeMention, Offset: off, Length: n}}
	}
	tests := []struct {
		name string
		msg  *models.Message
		ok   bool
		want chat.Inbound // only the fields checked below
	}{
		{"group without mention", &models.Message{ID: 1, From: bob, Chat: group, Text: "lunch?"},
			true, chat.Inbound{Group: "-100500", Text: "lunch?"}},
		{"mention entity", &models.Message{ID: 2, From: bob, Chat: group, Text: "hey @" + botName, Entities: mention(4, len(botName)+1)},
			true, chat.Inbound{Group: "-100500", Mentioned: true, Text: "hey @" + botName}},
		{"mention after emoji counts UTF-16 units", &models.Message{ID: 3, From: bob, Chat: group, Text: "😀 @" + strings.ToUpper(botName), Entities: mention(3, len(botName)+1)},
			true, chat.Inbound{Group: "-100500", Mentioned: true, Text: "😀 @" + strings.ToUpper(botName)}},
		{"mention of another bot", &models.Message{ID: 4, From: bob, Chat: group, Text: "@" + botName + "_old hi", Entities: mention(0, len(botName)+5)},
			true, chat.Inbound{Group: "-100500", Text: "@" + botName + "_old hi"}},
		{"entity out of range is ignored", &models.Message{ID: 5, From: bob, Chat: group, Text: "hi", Entities: mention(1, 99)},
			true, chat.Inbound{Group: "-100500", Text: "hi"}},
		{"reply to the bot", &models.Message{ID: 6, From: bob, Chat: group, Text: "thanks", ReplyToMessage: botMsg},
			true, chat.Inbound{Group: "-100500", Mentioned: true, Text: "thanks"}},
		{"command for this bot", &models.Message{ID: 7, From: bob, Chat: group, Text: "/approve@" + botName + " abc",
			Entities: []models.MessageEntity{{Type: models.MessageEntityTypeBotCommand, Offset: 0, Length: 9 + len(botName)}}},
			true, chat.Inbound{Group: "-100500", Mentioned: true, Text: "/approve abc"}},
		{"command for another bot", &models.Message{ID: 8, From: bob, Chat: group, Text: "/start@other_bot",
			Entities: []models.MessageEntity{{Type: models.MessageEntityTypeBotCommand, Offset: 0, Length: 16}}},
			true, chat.Inbound{Group: "-100500", Text: "/start@other_bot"}},
		{"text mention", &models.Message{ID: 9, From: bob, Chat: group, Text: "Genos help",
			Entities: []models.MessageEntity{{Type: models.MessageEntityTypeTextMention, Offset: 0, Length: 5, User: &models.User{ID: botID}}}},
			true, chat.Inbound{Group: "-100500", Mentioned: true, Text: "Genos help"}},
		{"forum topic", &models.Message{ID: 11, From: bob, Chat: forum, Text: "in topic", MessageThreadID: 33, IsTopicMessage: true,
			ReplyToMessage: &models.Message{ID: 33, From: &models.User{ID: botID}, Chat: forum, ForumTopicCreated: &models.ForumTopicCreated{Name: "t"}}},
			true, chat.Inbound{Group: "-100600", Thread: "33", Text: "in topic"}},
		{"caption is the text", &models.Message{ID: 12, From: bob, Chat: models.Chat{ID: 777, Type: models.ChatTypePrivate}, Caption: "look"},
			true, chat.Inbound{Text: "look"}},
		{"own message", &models.Message{ID: 13, From: &models.User{ID: botID}, Chat: group, Text: "echo"}, false, chat.Inbound{}},
		{"channel post", &models.Message{ID: 14, Chat: models.Chat{ID: -100700, Type: models.ChatTypeChannel}, Text: "news"}, false, chat.Inbound{}},
		{"service message", &models.Message{ID: 15, From: bob, Chat: group, NewChatMembers: []models.User{*bob}}, false, chat.Inbound{}},
	}
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := a.inbound(t.Context(), me, tt.msg)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			gotFields := chat.Inbound{Group: got.Group, Thread: got.Thread, Mentioned: got.Mentioned, Text: got.Text}
			if diff := cmp.Diff(tt.want, gotFields); diff != "" {
				t.Errorf("inbound (-want +got):\n%s", diff)
			}
			if got.Peer != "777" || got.Provenance.Sender != "777" || got.Provenance.Kind != chat.ExternalUser {
				t.Errorf("peer %q provenance %+v, want sender 777 external_user", got.Peer, got.Provenance)
			}
		})
	}
}

func TestInboundFiles(t *testing.T) {
	t.Parallel()
	photo := bytes.Repeat([]byte{0xFF, 0xD8}, 500)
	doc := []byte("%PDF-1.7 report")
	voice := []byte("OggS voice")
	big := bytes.Repeat([]byte("x"), 2048)
	setup := func(f *telegramtest.Server) {
		f.AddFile("photo-big", telegramtest.File{UniqueID: "pb", Path: "photos/file_1.jpg", Size: int64(len(photo)), Data: photo})
		f.AddFile("doc", telegramtest.File{UniqueID: "d1", Path: "documents/file_2.pdf", Size: int64(len(doc)), Data: doc})
		f.AddFile("voice", telegramtest.File{UniqueID: "v1", Path: "voice/file_3.oga", Size: int64(len(voice)), Data: voice})
		// The size is unknown up front; the download itself is capped.
		f.AddFile("big-unsized", telegramtest.File{UniqueID: "b2", Path: "documents/file_5.bin", Data: big})
	}
	me := identity{id: botID, username: botName}
	dmChat := models.Chat{ID: 42, Type: models.ChatTypePrivate}
	from := &models.User{ID: 42, FirstName: "Ann"}
	tests := []struct {
		name     string
		msg      *models.Message
		save     bool
		wantText string
		want     []chat.Attachment
	}{
		{"largest photo with caption", &models.Message{ID: 1, From: from, Chat: dmChat, Caption: "my cat",
			Photo: []models.PhotoSize{{FileID: "photo-small", FileUniqueID: "ps", Width: 90, Height: 90}, {FileID: "photo-big", FileUniqueID: "pb", Width: 1280, Height: 960}}},
			false, "my cat", []chat.Attachment{{Name: "photo-pb.jpg", MIME: "image/jpeg", Size: int64(len(photo)), Data: photo}}},
		{"document", &models.Message{ID: 2, From: from, Chat: dmChat,
			Document: &models.Document{FileID: "doc", FileUniqueID: "d1", FileName: "../../etc/report.pdf", MimeType: "application/pdf", FileSize: int64(len(doc))}},
			false, "", []chat.Attachment{{Name: "report.pdf", MIME: "application/pdf", Size: int64(len(doc)), Data: doc}}},
		{"voice note", &models.Message{ID: 3, From: from, Chat: dmChat,
			Voice: &models.Voice{FileID: "voice", FileUniqueID: "v1", Duration: 7, MimeType: "audio/ogg", FileSize: int64(len(voice))}},
			false, "", []chat.Attachment{{Name: "voice-v1.ogg", MIME: "audio/ogg", Size: int64(len(voice)), Duration: 7000, Data: voice}}},
		{"too large by size", &models.Message{ID: 4, From: from, Chat: dmChat, Caption: "video dump",
			Document: &models.Document{FileID: "huge", FileUniqueID: "h1", FileName: "dump.bin", FileSize: 50 << 20}},
			false, "video dump\n[file too large]", []chat.Attachment{{Name: "dump.bin", MIME: "application/octet-stream", Size: 50 << 20}}},
		{"too large on download", &models.Message{ID: 5, From: from, Chat: dmChat,
			Document: &models.Document{FileID: "big-unsized", FileUniqueID: "b2", FileName: "blob.bin"}},
			false, "[file too large]", []chat.Attachment{{Name: "blob.bin", MIME: "application/octet-stream"}}},
		{"unknown file", &models.Message{ID: 6, From: from, Chat: dmChat,
			Document: &models.Document{FileID: "gone", FileUniqueID: "g1", FileName: "gone.txt", FileSize: 10}},
			false, "[file could not be downloaded]", []chat.Attachment{{Name: "gone.txt", MIME: "application/octet-stream", Size: 10}}},
		{"saved by the gateway", &models.Message{ID: 7, From: from, Chat: dmChat,
			Document: &models.Document{FileID: "doc", FileUniqueID: "d1", FileName: "report.pdf", MimeType: "application/pdf", FileSize: int64(len(doc))}},
			true, "", []chat.Attachment{{Name: "report.pdf", MIME: "application/pdf", Size: int64(len(doc)), Path: "sealed/report.pdf"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := telegramtest.New(t)
			setup(f)
			var mu sync.Mutex
			saved := map[string][]byte{}
			a := newTestAdapter(t, f, func(o *Options) {
				o.MaxDownloadBytes = 1024
				if tt.save {
					o.SaveFile = func(_ context.Context, name string, data []byte) (string, error) {
						mu.Lock()
						defer mu.Unlock()
						saved[name] = data
						return "sealed/" + name, nil
					}
				}
			})
			got, ok := a.inbound(t.Context(), me, tt.msg)
			if !ok {
				t.Fatal("message with a file was dropped")
			}
			if got.Text != tt.wantText {
				t.Errorf("text = %q, want %q", got.Text, tt.wantText)
			}
			if diff := cmp.Diff(tt.want, got.Attachments); diff != "" {
				t.Errorf("attachments (-want +got):\n%s", diff)
			}
			if tt.save && !bytes.Equal(saved["report.pdf"], doc) {
				t.Errorf("SaveFile got %q, want the document bytes", saved["report.pdf"])
			}
		})
	}
}

// failFiles fails every file download at the transport, the way a network
// error would: net/http then reports the URL, which holds the token.
type failFiles struct{ next http.RoundTripper }

func (f failFiles) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/file/") {
		return nil, errors.New("connection reset by peer")
	}
	return f.next.RoundTrip(r)
}

func TestDownloadFailureHidesToken(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	f.AddFile("doc", telegramtest.File{UniqueID: "d1", Path: "documents/file_2.pdf", Size: 3, Data: []byte("abc")})
	a := newTestAdapter(t, f, func(o *Options) {
		o.HTTPClient = &http.Client{Transport: failFiles{http.DefaultTransport}}
	})
	_, err := a.download(t.Context(), "documents/file_2.pdf", 10)
	if err == nil || strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "<token>") {
		t.Errorf("download error = %v, want it with the token redacted", err)
	}
	msg := &models.Message{ID: 1, From: &models.User{ID: 42}, Chat: models.Chat{ID: 42, Type: models.ChatTypePrivate},
		Document: &models.Document{FileID: "doc", FileUniqueID: "d1", FileName: "a.pdf", FileSize: 3}}
	in, ok := a.inbound(t.Context(), identity{id: botID, username: botName}, msg)
	if !ok || in.Text != "[file could not be downloaded]" || in.Attachments[0].Data != nil {
		t.Errorf("inbound = %+v, want the attachment without data and a note", in)
	}
	// newTestAdapter's cleanup checks the logged errors for the token.
}
