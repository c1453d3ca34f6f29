package telegram

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/channels/telegram/telegramtest"
	"github.com/genos-project/genos/core/chat"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		want string // substring of the error; "" means success
	}{
		{"ok", Options{Token: testToken}, ""},
		{"empty token", Options{}, "malformed"},
		{"no colon", Options{Token: "123456789AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"}, "malformed"},
		{"short secret", Options{Token: "123:abc"}, "malformed"},
		{"bad chars", Options{Token: "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0 x"}, "malformed"},
		{"relative url", Options{Token: testToken, APIURL: "api.telegram.org"}, "absolute http"},
		{"ftp url", Options{Token: testToken, APIURL: "ftp://example.com"}, "absolute http"},
		{"negative cap", Options{Token: testToken, MaxDownloadBytes: -1}, "negative"},
		{"sub-second poll", Options{Token: testToken, PollTimeout: time.Millisecond}, "at least 1s"},
		{"client times out polls", Options{Token: testToken, HTTPClient: &http.Client{Timeout: 10 * time.Second}}, "must exceed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := New(tt.opts)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if st := a.Status(); st.State != chat.ChannelStopped || st.Channel != "telegram" {
					t.Errorf("new adapter status = %+v, want stopped telegram", st)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want it to mention %q", err, tt.want)
			}
			if tt.opts.Token != "" && strings.Contains(err.Error(), tt.opts.Token) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestRunDeliversDirectMessage(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	st := watch(a)
	r := start(t, a)
	f.Queue(&models.Message{
		ID:   42,
		From: &models.User{ID: 555, FirstName: "Ada", LastName: "Lovelace", Username: "ada"},
		Chat: models.Chat{ID: 555, Type: models.ChatTypePrivate},
		Text: "hello bot",
	})
	got := r.next(t)
	want := chat.Inbound{
		Channel: "telegram", Account: "@" + botName, Peer: "555", PeerName: "Ada Lovelace", MessageID: "42",
		Text:       "hello bot",
		Provenance: chat.Provenance{Kind: chat.ExternalUser, Channel: "telegram", Sender: "555"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inbound (-want +got):\n%s", diff)
	}
	status := a.Status()
	if status.State != chat.ChannelConnected || status.Account != "@"+botName || status.LastInbound.IsZero() {
		t.Errorf("status = %+v, want connected as @%s with LastInbound", status, botName)
	}
	if err := r.stop(t); err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	if diff := cmp.Diff([]chat.ChannelState{chat.ChannelConnecting, chat.ChannelConnected, chat.ChannelStopped}, st.list()); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	// The exit confirmed the delivered update, so a restart will not see it.
	if n := f.Pending(); n != 0 {
		t.Errorf("%d updates still unconfirmed after Run returned", n)
	}
}

func TestRunGroupMentions(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	r := start(t, a)
	group := models.Chat{ID: -1001234, Type: models.ChatTypeSupergroup, Title: "Team"}
	from := &models.User{ID: 777, FirstName: "Bob"}
	f.Queue(&models.Message{ID: 1, From: from, Chat: group, Text: "just chatting"})
	f.Queue(&models.Message{ID: 2, From: from, Chat: group, Text: "@" + botName + " what's up?",
		Entities: []models.MessageEntity{{Type: models.MessageEntityTypeMention, Offset: 0, Length: len(botName) + 1}}})
	for _, want := range []struct {
		id        string
		mentioned bool
	}{{"1", false}, {"2", true}} {
		got := r.next(t)
		if got.MessageID != want.id || got.Mentioned != want.mentioned || got.Group != "-1001234" || got.Peer != "777" {
			t.Errorf("message %s: got group=%q peer=%q mentioned=%v, want group -1001234 peer 777 mentioned=%v",
				got.MessageID, got.Group, got.Peer, got.Mentioned, want.mentioned)
		}
	}
}

func TestRunRecoversWithoutLossOrDuplicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fault  telegramtest.Fault
		reason string // expected in the reconnecting status
	}{
		{"connection dropped mid-poll", telegramtest.Fault{Drop: true}, "cannot reach Telegram"},
		{"server error", telegramtest.Fault{Code: 502, Description: "Bad Gateway"}, "HTTP 502"},
		{"proxy error page", telegramtest.Fault{RawStatus: 503}, "HTTP 503"},
		{"rate limited", telegramtest.Fault{Code: 429, Description: "Too Many Requests: retry after 1", RetryAfter: 1}, "rate limited"},
		{"conflict", telegramtest.Fault{Code: 409, Description: "Conflict: terminated by other getUpdates request"}, "another program"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := telegramtest.New(t)
			a := newTestAdapter(t, f, nil)
			st := watch(a)
			r := start(t, a)
			dm := func(id int, text string) *models.Message {
				return &models.Message{ID: id, From: &models.User{ID: 9, FirstName: "C"}, Chat: models.Chat{ID: 9, Type: models.ChatTypePrivate}, Text: text}
			}
			f.Queue(dm(1, "one"))
			f.Queue(dm(2, "two"))
			got := []string{r.next(t).Text, r.next(t).Text}
			f.Inject("getUpdates", tt.fault)
			f.Queue(dm(3, "three"))
			got = append(got, r.next(t).Text)
			f.Queue(dm(4, "four"))
			got = append(got, r.next(t).Text)
			if diff := cmp.Diff([]string{"one", "two", "three", "four"}, got); diff != "" {
				t.Errorf("delivered (-want +got):\n%s", diff)
			}
			r.stop(t)
			select {
			case extra := <-r.in:
				t.Errorf("delivered again: %q", extra.Text)
			default:
			}
			s, ok := st.has(chat.ChannelReconnecting)
			if !ok || !strings.Contains(s.Reason, tt.reason) {
				t.Errorf("reconnecting status = %+v (seen %v), want reason with %q", s, st.list(), tt.reason)
			}
			if strings.Contains(s.Reason, testToken) {
				t.Errorf("reason shows the token")
			}
		})
	}
}

func TestRunReconnectsStalledPoll(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	a.pollGrace = 50 * time.Millisecond
	st := watch(a)
	f.Inject("getUpdates", telegramtest.Fault{Hang: true}) // the first poll never answers
	r := start(t, a)
	f.Queue(&models.Message{ID: 5, From: &models.User{ID: 9}, Chat: models.Chat{ID: 9, Type: models.ChatTypePrivate}, Text: "after stall"})
	if got := r.next(t); got.Text != "after stall" {
		t.Errorf("delivered %q, want %q", got.Text, "after stall")
	}
	if s, ok := st.has(chat.ChannelReconnecting); !ok || !strings.Contains(s.Reason, "stalled") {
		t.Errorf("reconnecting status = %+v, want a stalled-poll reason", s)
	}
}

func TestRunBadTokenFails(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	f.SetToken("987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0") // the server knows another bot
	a := newTestAdapter(t, f, nil)
	r := start(t, a)
	var err error
	select {
	case err = <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run kept going with a rejected token")
	}
	close(r.done)
	if err == nil {
		t.Fatal("Run returned nil for a rejected token")
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error shows the token: %v", err)
	}
	st := a.Status()
	if st.State != chat.ChannelFailed || !strings.Contains(st.Reason, "token") {
		t.Errorf("status = %+v, want failed with a reason about the token", st)
	}
}

func TestRunDeletesWebhookOnConflict(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	a := newTestAdapter(t, f, nil)
	f.Inject("getUpdates", telegramtest.Fault{Code: 409, Description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"})
	r := start(t, a)
	f.Queue(&models.Message{ID: 5, From: &models.User{ID: 9}, Chat: models.Chat{ID: 9, Type: models.ChatTypePrivate}, Text: "hi"})
	r.next(t)
	if n := len(f.OKCalls("deleteWebhook")); n != 1 {
		t.Errorf("deleteWebhook called %d times, want 1", n)
	}
}

func TestRunRetriesGetMe(t *testing.T) {
	t.Parallel()
	f := telegramtest.New(t)
	f.Inject("getMe", telegramtest.Fault{Code: 503, Description: "Service Unavailable"})
	a := newTestAdapter(t, f, nil)
	st := watch(a)
	r := start(t, a)
	f.Queue(&models.Message{ID: 5, From: &models.User{ID: 9}, Chat: models.Chat{ID: 9, Type: models.ChatTypePrivate}, Text: "hi"})
	r.next(t)
	if !st.find(chat.ChannelConnecting, "HTTP 503") {
		t.Errorf("states %v never said connecting with the server error", st.list())
	}
	if got := a.Status().State; got != chat.ChannelConnected {
		t.Errorf("state after recovery = %s, want connected", got)
	}
}
