package telegram

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/channels"
	"github.com/genos-project/genos/channels/telegram/telegramtest"
	"github.com/genos-project/genos/core/chat"
)

// longReply is about n characters of Markdown in numbered paragraphs with
// formatting and characters HTML must escape.
func longReply(n int) (string, int) {
	var b strings.Builder
	i := 0
	for b.Len() < n {
		i++
		fmt.Fprintf(&b, "Paragraph %04d: **bold** and `x < y && z` with _style_ and a [link](https://example.org/%d). ", i, i)
		b.WriteString(strings.Repeat("Filler words keep going ", 4) + "\n\n")
	}
	return b.String(), i
}

func TestSendLongReplyInOrder(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	md, paragraphs := longReply(10000)
	if err := a.Send(t.Context(), chat.Outbound{Channel: "telegram", Peer: "42", Text: md}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	calls := f.Calls("sendMessage")
	if len(calls) < 3 {
		t.Fatalf("sent %d messages for %d characters, want at least 3", len(calls), len(md))
	}
	var visible strings.Builder
	for i, c := range calls {
		if c.Code != 0 {
			t.Fatalf("piece %d rejected (code %d)", i, c.Code)
		}
		if n := channels.UTF16Len(c.Params["text"]); n > channels.TelegramLimit {
			t.Errorf("piece %d is %d UTF-16 units, over %d", i, n, channels.TelegramLimit)
		}
		if c.Params["parse_mode"] != "HTML" || c.Params["chat_id"] != "42" {
			t.Errorf("piece %d: parse_mode %q chat %q, want HTML to 42", i, c.Params["parse_mode"], c.Params["chat_id"])
		}
		v, err := telegramtest.ParseHTML(c.Params["text"])
		if err != nil {
			t.Fatalf("piece %d is not valid Telegram HTML: %v", i, err)
		}
		visible.WriteString(v)
	}
	text := visible.String()
	last := -1
	for p := 1; p <= paragraphs; p++ {
		at := strings.Index(text, fmt.Sprintf("Paragraph %04d:", p))
		if at < 0 || at < last {
			t.Fatalf("paragraph %d missing or out of order (at %d, previous at %d)", p, at, last)
		}
		last = at
	}
}

func TestSendAddressing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		out  chat.Outbound
		want map[string]string // params that must match; "" value means absent
	}{
		{"direct message", chat.Outbound{Peer: "555", Text: "hi"},
			map[string]string{"chat_id": "555", "message_thread_id": "", "reply_parameters": ""}},
		{"group topic reply", chat.Outbound{Channel: "telegram", Peer: "555", Group: "-100200", Thread: "33", ReplyTo: "77", Text: "hi"},
			map[string]string{"chat_id": "-100200", "message_thread_id": "33", "reply_parameters": `{"message_id":77,"allow_sending_without_reply":true}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := telegramtest.New(t)
			a := newTestAdapter(t, f, nil)
			if err := a.Send(t.Context(), tt.out); err != nil {
				t.Fatalf("Send: %v", err)
			}
			calls := f.OKCalls("sendMessage")
			if len(calls) != 1 {
				t.Fatalf("%d sendMessage calls, want 1", len(calls))
			}
			for k, v := range tt.want {
				if got := calls[0].Params[k]; got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestSendRejectsBadAddresses(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	for _, out := range []chat.Outbound{
		{Text: "no peer"},
		{Peer: "alice", Text: "not an id"},
		{Peer: "1", Thread: "-3", Text: "bad thread"},
		{Peer: "1", ReplyTo: "x", Text: "bad reply"},
		{Channel: "whatsapp", Peer: "1", Text: "wrong channel"},
	} {
		err := a.Send(t.Context(), out)
		if channels.KindOf(err) != channels.KindPermanent || err == nil {
			t.Errorf("Send(%+v) = %v, want a permanent error", out, err)
		}
	}
	if n := len(f.Calls("sendMessage")); n != 0 {
		t.Errorf("%d messages sent to bad addresses", n)
	}
}

func TestSendFallsBackToPlainText(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	f.Inject("sendMessage", telegramtest.Fault{Code: 400, Description: `Bad Request: can't parse entities: Unsupported start tag "x" at byte offset 5`,
		When: func(p map[string]string) bool { return p["parse_mode"] == "HTML" }})
	if err := a.Send(t.Context(), chat.Outbound{Peer: "42", Text: "**Hi** see [docs](https://x.org) & more"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	ok := f.OKCalls("sendMessage")
	if len(ok) != 1 {
		t.Fatalf("%d delivered messages, want 1", len(ok))
	}
	if ok[0].Params["parse_mode"] != "" {
		t.Errorf("retry used parse_mode %q, want none", ok[0].Params["parse_mode"])
	}
	if got := ok[0].Params["text"]; strings.ContainsAny(got, "<>*") || !strings.Contains(got, "Hi") || !strings.Contains(got, "& more") {
		t.Errorf("plain retry text = %q, want the text without markup", got)
	}
}

func TestSendClassifiesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault telegramtest.Fault
		want  channels.Kind
	}{
		{"blocked by user", telegramtest.Fault{Code: 403, Description: "Forbidden: bot was blocked by the user"}, channels.KindPermanent},
		{"chat not found", telegramtest.Fault{Code: 400, Description: "Bad Request: chat not found"}, channels.KindPermanent},
		{"server error", telegramtest.Fault{Code: 500, Description: "Internal Server Error"}, channels.KindTemporary},
		{"proxy page", telegramtest.Fault{RawStatus: 502}, channels.KindTemporary},
		{"connection dropped", telegramtest.Fault{Drop: true}, channels.KindTemporary},
		{"rate limit beyond deadline", telegramtest.Fault{Code: 429, Description: "Too Many Requests: retry after 30", RetryAfter: 30}, channels.KindRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := telegramtest.New(t)
			a := newTestAdapter(t, f, nil)
			f.Inject("sendMessage", tt.fault)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			err := a.Send(ctx, chat.Outbound{Peer: "42", Text: "hello"})
			if err == nil {
				t.Fatal("Send succeeded despite the fault")
			}
			if got := channels.KindOf(err); got != tt.want {
				t.Errorf("KindOf(%v) = %v, want %v", err, got, tt.want)
			}
			if tt.want == channels.KindRateLimited {
				if d, ok := channels.RetryAfter(err); !ok || d != 30*time.Second {
					t.Errorf("RetryAfter = %v, %v; want 30s", d, ok)
				}
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestSendWaitsOutOneRateLimit(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	f.Inject("sendMessage", telegramtest.Fault{Code: 429, Description: "Too Many Requests: retry after 1", RetryAfter: 1})
	if err := a.Send(t.Context(), chat.Outbound{Peer: "42", Text: "patience"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	calls := f.Calls("sendMessage")
	if len(calls) != 2 || calls[0].Code != 429 || calls[1].Code != 0 {
		t.Errorf("calls = %d (first code %d), want a 429 then a success", len(calls), calls[0].Code)
	}

	// A second 429 in a row is returned, not waited out again.
	f.Inject("sendMessage", telegramtest.Fault{Code: 429, Description: "Too Many Requests: retry after 1", RetryAfter: 1})
	f.Inject("sendMessage", telegramtest.Fault{Code: 429, Description: "Too Many Requests: retry after 1", RetryAfter: 1})
	err := a.Send(t.Context(), chat.Outbound{Peer: "42", Text: "again"})
	if channels.KindOf(err) != channels.KindRateLimited {
		t.Errorf("Send after two 429s = %v, want rate-limited", err)
	}
}

func TestSendAttachments(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	png := []byte("\x89PNG fake image")
	pdf := []byte("%PDF fake")
	out := chat.Outbound{Peer: "42", Text: "files:", Attachments: []chat.Attachment{
		{Name: "chart.png", MIME: "image/png", Data: png, Caption: "**Q3** chart"},
		{Name: "report.pdf", MIME: "application/pdf", Data: pdf},
		{Name: "notes.txt", MIME: "text/plain", Data: []byte("n"), Caption: strings.Repeat("long caption ", 100)},
	}}
	if err := a.Send(t.Context(), out); err != nil {
		t.Fatalf("Send: %v", err)
	}
	photos, docs := f.OKCalls("sendPhoto"), f.OKCalls("sendDocument")
	if len(photos) != 1 || len(docs) != 2 {
		t.Fatalf("sent %d photos and %d documents, want 1 and 2", len(photos), len(docs))
	}
	if p := photos[0]; !bytes.Equal(p.Files["photo"].Data, png) || p.Files["photo"].Name != "chart.png" ||
		p.Params["caption"] != "<b>Q3</b> chart" || p.Params["parse_mode"] != "HTML" {
		t.Errorf("sendPhoto got file %q (%q) caption %q mode %q", p.Files["photo"].Data, p.Files["photo"].Name, p.Params["caption"], p.Params["parse_mode"])
	}
	if d := docs[0]; !bytes.Equal(d.Files["document"].Data, pdf) || d.Params["caption"] != "" {
		t.Errorf("sendDocument got file %q caption %q", d.Files["document"].Data, d.Params["caption"])
	}
	// The caption over 1024 follows as a message after its file.
	msgs := f.OKCalls("sendMessage")
	if len(msgs) != 2 || !strings.HasPrefix(msgs[1].Params["text"], "long caption") {
		t.Errorf("messages = %d, want the text and then the long caption", len(msgs))
	}

	err := a.Send(t.Context(), chat.Outbound{Peer: "42", Attachments: []chat.Attachment{{Name: "x.bin"}}})
	if channels.KindOf(err) != channels.KindPermanent || err == nil {
		t.Errorf("Send of an attachment without data = %v, want permanent", err)
	}
}

func TestTyping(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	if err := a.Typing(t.Context(), chat.Outbound{Peer: "1", Group: "-100300", Thread: "9"}); err != nil {
		t.Fatalf("Typing: %v", err)
	}
	calls := f.OKCalls("sendChatAction")
	if len(calls) != 1 {
		t.Fatalf("%d chat actions, want 1", len(calls))
	}
	got := map[string]string{"chat_id": calls[0].Params["chat_id"], "action": calls[0].Params["action"], "message_thread_id": calls[0].Params["message_thread_id"]}
	if diff := cmp.Diff(map[string]string{"chat_id": "-100300", "action": "typing", "message_thread_id": "9"}, got); diff != "" {
		t.Errorf("sendChatAction (-want +got):\n%s", diff)
	}
}
