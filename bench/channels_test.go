package main

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/channels/telegram/telegramtest"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/policy"
)

func TestParseMarkers(t *testing.T) {
	tests := []struct {
		name, text string
		want       []int
	}{
		{"own text", markerText(17), []int{17}},
		{"echoed in html", "<b>echo:</b> bench message bm4e", []int{4}},
		{"partial stream has none", "echo: bench message ", nil},
		{"prefix of another marker", "bm1 bm12e", []int{12}},
		{"inside a word", "xbm3e bm3ex", nil},
		{"several", "bm1e and bm2e", []int{1, 2}},
		{"too long a number", "bm1234567890123e", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parseMarkers(tt.text)); diff != "" {
				t.Errorf("parseMarkers(%q) (-want +got):\n%s", tt.text, diff)
			}
		})
	}
}

func TestParseSentText(t *testing.T) {
	tests := []struct {
		name, body string
		chat       int64
		text, err  string
	}{
		{"message", `{"ok":true,"result":{"message_id":3,"chat":{"id":7000000001},"text":"echo: hi bm1e"}}`, 7000000001, "echo: hi bm1e", ""},
		{"refused", `{"ok":false,"error_code":400,"description":"Bad Request: message is not modified"}`, 0, "", "not modified"},
		{"refused without words", `{"ok":false}`, 0, "", "ok is false"},
		{"no result", `{"ok":true}`, 0, "", "no message"},
		{"not json", `<html>bad gateway</html>`, 0, "", "not Bot API JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chat, text, err := parseSentText([]byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseSentText = %d %q %v, want an error with %q", chat, text, err, tt.err)
				}
				return
			}
			if err != nil || chat != tt.chat || text != tt.text {
				t.Fatalf("parseSentText = %d %q %v, want %d %q", chat, text, err, tt.chat, tt.text)
			}
		})
	}
}

func TestMethodOf(t *testing.T) {
	for path, want := range map[string]string{
		"/bot123:abc/sendMessage":     "sendMessage",
		"/bot123:abc/editMessageText": "editMessageText",
		"/bot123:abc/getUpdates":      "getUpdates",
	} {
		got := methodOf(path)
		if got != want {
			t.Errorf("methodOf(%q) = %q, want %q", path, got, want)
		}
		if isTextMethod(got) != (want != "getUpdates") {
			t.Errorf("isTextMethod(%q) = %v", got, isTextMethod(got))
		}
	}
}

func TestPeerIDsAreDistinct(t *testing.T) {
	seen := map[int64]string{floodPeer: "flood"}
	for w := range 1025 { // -channel-peers allows 1024 workers plus the solo one
		for _, gen := range []int{0, 1, 999_999} {
			id := peerID(w, gen)
			if prev, ok := seen[id]; ok {
				t.Fatalf("peerID(%d, %d) = %d, already used by %s", w, gen, id, prev)
			}
			seen[id] = "worker"
		}
	}
}

func TestReplyTap(t *testing.T) {
	tap := newReplyTap()
	wait, forget := tap.expect(5)
	defer forget()
	_, forgetOther := tap.expect(6)
	forgetOther() // given up on: its reply counts as late
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	msg := func(chat int64, text string) []byte {
		return []byte(`{"ok":true,"result":{"chat":{"id":` + strconv.FormatInt(chat, 10) + `},"text":"` + text + `"}}`)
	}
	tap.observe("sendMessage", msg(1, "echo: bench message "), at)    // a partial reply
	tap.observe("editMessageText", msg(1, "echo: bench bm5e"), at)    // complete
	tap.observe("editMessageText", msg(1, "echo: bench bm5e ok"), at) // a later edit
	tap.observe("sendMessage", msg(2, "echo: bm6e"), at)
	tap.observe("sendMessage", msg(9, policy.FloodNotice), at)
	tap.observe("editMessageText", []byte(`{"ok":false,"description":"Bad Request: can't parse entities"}`), at)
	tap.count("getUpdates")
	select {
	case got := <-wait:
		if !got.Equal(at) {
			t.Errorf("reply time = %v, want %v", got, at)
		}
	default:
		t.Fatal("no reply time for message 5")
	}
	st := tap.stats()
	want := tapStats{
		calls:   map[string]int{"sendMessage": 3, "editMessageText": 3, "getUpdates": 1},
		failed:  1,
		samples: []string{"editMessageText: Bad Request: can't parse entities"},
		late:    1,
	}
	if diff := cmp.Diff(want, st, cmp.AllowUnexported(tapStats{})); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if n := tap.noticesTo(9); n != 1 {
		t.Errorf("flood notices to chat 9 = %d, want 1", n)
	}
}

func TestSummarizeFlood(t *testing.T) {
	refill := 3 * time.Second
	tests := []struct {
		name    string
		answers map[int]time.Duration
		want    floodSummary
	}{
		{
			name:    "burst, two refills, oldest dropped",
			answers: map[int]time.Duration{1: 5 * time.Millisecond, 2: 6 * time.Millisecond, 3: 7 * time.Millisecond, 11: 3 * time.Second, 12: 6 * time.Second},
			want: floodSummary{answered: 5, atOnce: 3, waiting: 18, atOnceP50: 6 * time.Millisecond,
				later: []int{11, 12}, dropped: []int{4, 5, 6, 7, 8, 9, 10}, order: []int{1, 2, 3, 11, 12}, inOrder: true},
		},
		{
			name:    "out of order, first dropped",
			answers: map[int]time.Duration{3: 9 * time.Millisecond, 2: 4 * time.Millisecond},
			want: floodSummary{answered: 2, atOnce: 2, waiting: 27, atOnceP50: 4 * time.Millisecond,
				dropped: []int{1}, order: []int{2, 3}, inOrder: true},
		},
		{
			name:    "replies out of order",
			answers: map[int]time.Duration{1: 9 * time.Millisecond, 2: 4 * time.Millisecond},
			want: floodSummary{answered: 2, atOnce: 2, waiting: 28, atOnceP50: 4 * time.Millisecond,
				order: []int{2, 1}, inOrder: false},
		},
		{
			name: "nothing answered",
			want: floodSummary{waiting: 30, order: []int{}, inOrder: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers := tt.answers
			if answers == nil {
				answers = map[int]time.Duration{}
			}
			got := summarizeFlood(floodResult{sent: 30, answers: answers}, refill)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(floodSummary{})); diff != "" {
				t.Errorf("summarizeFlood (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDescribeFlood(t *testing.T) {
	f := floodResult{sent: 30, notices: 1, answers: map[int]time.Duration{
		2: 9 * time.Millisecond, 3: 10 * time.Millisecond, 6: 4 * time.Millisecond, 11: 3 * time.Second,
	}}
	got := describeFlood(f, summarizeFlood(f, 3*time.Second))
	for _, want := range []string{"3 answered at once", "#11 at 3.0 s", "(4 within 7s)", "7 dropped (#1, #4–#5, #7–#10)", "19 still waiting", "1 flood notice;", "out of order**: #6, #2, #3, #11"} {
		if !strings.Contains(got+";", want) {
			t.Errorf("describeFlood = %q, missing %q", got, want)
		}
	}
}

func TestFmtIndexes(t *testing.T) {
	for _, tt := range []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{4}, "#4"},
		{[]int{1, 7, 8, 9, 10}, "#1, #7–#10"},
		{[]int{2, 3, 5}, "#2–#3, #5"},
	} {
		if got := fmtIndexes(tt.in); got != tt.want {
			t.Errorf("fmtIndexes(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIdleFormatters(t *testing.T) {
	if got := medianBytes([]int64{30, 10, 20}); got != 20 {
		t.Errorf("median of 3 = %d, want 20", got)
	}
	if got := medianBytes([]int64{40, 10, 30, 20}); got != 20 {
		t.Errorf("median of 4 = %d, want the lower middle 20", got)
	}
	if got := medianBytes(nil); got != 0 {
		t.Errorf("median of none = %d", got)
	}
	for d, want := range map[int64]string{
		412 << 10:        "+412 KiB",
		-(3 << 9):        "-2 KiB", // 1.5 KiB rounds half up
		0:                "+0 KiB",
		3<<20 + 300<<10:  "+3.3 MiB",
		-(1<<20 + 1<<19): "-1.5 MiB",
		1<<20 - 1<<9 - 1: "+1023 KiB",
	} {
		if got := fmtBytesDelta(d); got != want {
			t.Errorf("fmtBytesDelta(%d) = %q, want %q", d, got, want)
		}
	}
	if got := fmtRSSList([]int64{14 << 20, 15<<20 + 1<<19}); got != "14.0, 15.5 MiB" {
		t.Errorf("fmtRSSList = %q", got)
	}
}

// TestChannelConfigIsValid checks that the bench's channel config passes
// the gateway's validation, before and after channels.set enables it.
func TestChannelConfigIsValid(t *testing.T) {
	cfg := config.Default()
	channelConfig(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("bench channel config: %v", err)
	}
	ch := cfg.Channels[config.ChannelTelegram]
	ch.Enabled, ch.TokenRef = true, "telegram.token"
	cfg.Channels[config.ChannelTelegram] = ch
	if err := cfg.Validate(); err != nil {
		t.Fatalf("bench channel config once enabled: %v", err)
	}
}

func TestChannelFlags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "no-such-genos")
	if _, err := parseFlags([]string{"-only", "channels", "-bin", bin}, io.Discard); err == nil {
		t.Error("-only channels without a gateway binary succeeded")
	}
	if _, err := parseFlags([]string{"-only", "vault", "-channel-peers", "0"}, io.Discard); err == nil {
		t.Error("-channel-peers 0 accepted")
	}
	o, err := parseFlags([]string{"-only", "vault"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.channelPeers != 16 {
		t.Errorf("default -channel-peers = %d, want 16", o.channelPeers)
	}
	if !strings.Contains(strings.Join(stepNames(), ","), "channels") {
		t.Errorf("stepNames %v lacks channels", stepNames())
	}
}

func TestHostTBCleanupOrder(t *testing.T) {
	tb := &hostTB{}
	var got []int
	tb.Cleanup(func() { got = append(got, 1) })
	tb.Cleanup(func() { got = append(got, 2) })
	tb.close()
	tb.close() // once only
	if diff := cmp.Diff([]int{2, 1}, got); diff != "" {
		t.Errorf("cleanup order (-want +got):\n%s", diff)
	}
}

// TestBotAPITap drives the tap over loopback HTTP, as the gateway's adapter
// does: a queued DM is polled through it and the reply sent through it
// reaches whoever waits for it.
func TestBotAPITap(t *testing.T) {
	b, err := newBotAPI(true)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	wait, forget := b.tap.expect(41)
	defer forget()
	b.dm(peerID(0, 0), 41)

	base := b.URL() + "/bot" + telegramtest.Token + "/"
	resp, err := http.Post(base+"getUpdates", "application/json", strings.NewReader(`{"offset":0,"timeout":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), markerText(41)) {
		t.Fatalf("getUpdates through the tap = %s, want the queued DM", body)
	}
	form := url.Values{"chat_id": {"7000000000"}, "text": {"echo: " + markerText(41)}}
	resp, err = http.PostForm(base+"sendMessage", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-wait:
	default:
		t.Fatal("the reply did not reach the waiter")
	}
	if st := b.tap.stats(); st.calls["getUpdates"] != 1 || st.calls["sendMessage"] != 1 || st.failed != 0 {
		t.Errorf("tap stats = %+v", st)
	}
}
