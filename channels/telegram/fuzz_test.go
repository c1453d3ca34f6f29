package telegram

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/go-telegram/bot/models"

	"github.com/genos-project/genos/core/chat"
)

// FuzzInbound feeds arbitrary Bot API messages (outside data: entity
// offsets in UTF-16 units, names, commands) through the inbound conversion.
// Files are left out so no request is made.
func FuzzInbound(f *testing.F) {
	f.Add([]byte(`{"message_id":1,"from":{"id":5,"first_name":"A"},"chat":{"id":5,"type":"private"},"text":"hi"}`))
	f.Add([]byte(`{"message_id":2,"from":{"id":5},"chat":{"id":-100,"type":"supergroup"},"text":"😀 @genos_test_bot","entities":[{"type":"mention","offset":3,"length":15}]}`))
	f.Add([]byte(`{"message_id":3,"from":{"id":5},"chat":{"id":-100,"type":"group"},"text":"/x@genos_test_bot y","entities":[{"type":"bot_command","offset":0,"length":-4}]}`))
	f.Add([]byte(`{"message_id":4,"from":{"id":5},"chat":{"id":-100,"type":"supergroup","is_forum":true},"is_topic_message":true,"message_thread_id":9,"caption":"c","caption_entities":[{"type":"text_mention","offset":99,"length":1,"user":{"id":123456789}}]}`))
	a, err := New(Options{Token: testToken, APIURL: "http://127.0.0.1:9"})
	if err != nil {
		f.Fatal(err)
	}
	me := identity{id: botID, username: botName}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m models.Message
		if json.Unmarshal(data, &m) != nil {
			return
		}
		m.Photo, m.Document, m.Voice, m.Audio, m.Video = nil, nil, nil, nil, nil
		in, ok := a.inbound(t.Context(), me, &m)
		if !ok {
			return
		}
		if in.Channel != Name || in.Peer == "" || in.Provenance.Sender != in.Peer || in.Provenance.Kind != chat.ExternalUser {
			t.Fatalf("inconsistent inbound %+v", in)
		}
		if in.Group == "" && in.Mentioned {
			t.Fatalf("direct message marked as a mention: %+v", in)
		}
		src := m.Text
		if src == "" {
			src = m.Caption
		}
		if utf8.ValidString(src) && !utf8.ValidString(in.Text) {
			t.Fatalf("valid text %q became invalid %q", src, in.Text)
		}
	})
}
