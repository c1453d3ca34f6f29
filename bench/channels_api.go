package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/genos-project/genos/channels/telegram/telegramtest"
	"github.com/genos-project/genos/core/policy"
)

// The channels step talks to the gateway's Telegram adapter through
// channels/telegram/telegramtest, a loopback Bot API server speaking the
// real wire protocol. The harness puts a small reverse proxy (the tap) in
// front of it, because it needs the moment each reply lands, and the server
// only keeps a list of calls.

// hostTB lets the harness, which is not a test, host telegramtest's server:
// New takes a testing.TB to register its cleanup with. The embedded
// interface is nil; every method the server calls outside WaitFor (which the
// harness does not use) is defined here, and a failure report panics, since
// the harness has no test to fail.
type hostTB struct {
	testing.TB

	mu       sync.Mutex
	cleanups []func()
}

// Helper implements testing.TB.
func (*hostTB) Helper() {}

// Name implements testing.TB.
func (*hostTB) Name() string { return "genos-bench" }

// Cleanup implements testing.TB; Close runs the functions, last first.
func (t *hostTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

// Logf implements testing.TB; the server's logs are not needed.
func (*hostTB) Logf(string, ...any) {}

// Log implements testing.TB.
func (*hostTB) Log(...any) {}

// Errorf implements testing.TB.
func (*hostTB) Errorf(format string, args ...any) {
	panic("telegramtest: " + fmt.Sprintf(format, args...))
}

// Fatalf implements testing.TB.
func (*hostTB) Fatalf(format string, args ...any) {
	panic("telegramtest: " + fmt.Sprintf(format, args...))
}

// close runs the registered cleanups, last first.
func (t *hostTB) close() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// botAPI is one loopback Bot API server, optionally behind a tap.
type botAPI struct {
	tb  *hostTB
	srv *telegramtest.Server
	tap *replyTap // nil when not tapped

	httpSrv *http.Server
	ln      net.Listener
	tr      *http.Transport
}

// newBotAPI starts a fake Bot API. With tapped, the gateway is pointed at a
// reverse proxy that times every reply the bot sends.
func newBotAPI(tapped bool) (*botAPI, error) {
	tb := &hostTB{}
	b := &botAPI{tb: tb, srv: telegramtest.New(tb)}
	if !tapped {
		return b, nil
	}
	upstream, err := url.Parse(b.srv.URL())
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("fake bot api url: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("listen for the bot api tap: %w", err)
	}
	b.tap = newReplyTap()
	// Enough kept-alive connections for every concurrent call, so the tap
	// does not churn sockets the adapter itself keeps open.
	b.tr = &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	proxy.Transport = b.tr
	proxy.ModifyResponse = func(resp *http.Response) error {
		method := methodOf(resp.Request.URL.Path)
		if !isTextMethod(method) {
			b.tap.count(method)
			return nil
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("read %s answer: %w", method, err)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		b.tap.observe(method, body, time.Now())
		return nil
	}
	proxy.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		// A poll the gateway gave up on (shutdown) is no failure.
		if r.Context().Err() == nil {
			b.tap.proxyFailed(methodOf(r.URL.Path), err)
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	b.ln = ln
	b.httpSrv = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go b.httpSrv.Serve(ln)
	return b, nil
}

// URL is what GENOS_TELEGRAM_API_URL is set to.
func (b *botAPI) URL() string {
	if b.ln != nil {
		return "http://" + b.ln.Addr().String()
	}
	return b.srv.URL()
}

// Close stops the tap and the server.
func (b *botAPI) Close() {
	if b.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = b.httpSrv.Shutdown(ctx)
		cancel()
		_ = b.httpSrv.Close() // long polls still held
	}
	if b.tr != nil {
		b.tr.CloseIdleConnections()
	}
	b.tb.close()
}

// dm queues a private text message from peer (also the chat id, as in
// Telegram) carrying the marker of seq; the message id is seq.
func (b *botAPI) dm(peer int64, seq int) {
	b.srv.Queue(&models.Message{
		ID:   seq,
		From: &models.User{ID: peer, FirstName: "Bench", LastName: strconv.Itoa(seq)},
		Chat: models.Chat{ID: peer, Type: models.ChatTypePrivate},
		Text: markerText(seq),
		Date: int(time.Now().Unix()),
	})
}

// isTextMethod reports whether method sends or edits the text the user
// sees.
func isTextMethod(method string) bool { return method == "sendMessage" || method == "editMessageText" }

// methodOf returns the Bot API method of a request path,
// /bot<token>/<method>.
func methodOf(p string) string { return path.Base(p) }

// markerText is the text of DM number seq. The loopback model echoes it
// ("echo: <text>") one word at a time, so a reply holding the marker, the
// last word, is complete.
func markerText(seq int) string { return fmt.Sprintf("bench message bm%de", seq) }

var markerRE = regexp.MustCompile(`\bbm([0-9]{1,12})e\b`)

// parseMarkers returns the message numbers whose markers text holds.
func parseMarkers(text string) []int {
	var out []int
	for _, m := range markerRE.FindAllStringSubmatch(text, -1) {
		if n, err := strconv.Atoi(m[1]); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// parseSentText decodes the Bot API answer to sendMessage or
// editMessageText: the chat and the visible text of the message on
// success, or the error description.
func parseSentText(body []byte) (chatID int64, text string, err error) {
	var a struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
		Result      *struct {
			Chat struct {
				ID int64 `json:"id"`
			} `json:"chat"`
			Text string `json:"text"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return 0, "", fmt.Errorf("answer is not Bot API JSON: %w", err)
	}
	if !a.OK {
		if a.Description == "" {
			a.Description = "ok is false"
		}
		return 0, "", errors.New(a.Description)
	}
	if a.Result == nil {
		return 0, "", errors.New("answer has no message")
	}
	return a.Result.Chat.ID, a.Result.Text, nil
}

// replyTap watches the bot's text replies: it hands the time a reply first
// shows a message's marker to whoever waits for that message, and counts
// calls, failed sends and flood notices.
type replyTap struct {
	mu      sync.Mutex
	waiting map[int]chan time.Time
	calls   map[string]int   // answered calls per method
	failed  int              // sends and edits the server refused
	samples []string         // their first few descriptions
	notices map[int64]int    // flood notices per chat
	late    int              // markers that arrived for nobody waiting
	seen    map[int]struct{} // messages answered, so later edits are not "late"
}

func newReplyTap() *replyTap {
	return &replyTap{waiting: map[int]chan time.Time{}, calls: map[string]int{}, notices: map[int64]int{}, seen: map[int]struct{}{}}
}

// expect registers interest in the reply to message seq; call it before
// the message is queued. The channel receives one time; the func forgets
// the registration.
func (t *replyTap) expect(seq int) (<-chan time.Time, func()) {
	ch := make(chan time.Time, 1)
	t.mu.Lock()
	t.waiting[seq] = ch
	t.mu.Unlock()
	return ch, func() {
		t.mu.Lock()
		if t.waiting[seq] == ch {
			delete(t.waiting, seq)
		}
		t.mu.Unlock()
	}
}

func (t *replyTap) count(method string) {
	t.mu.Lock()
	t.calls[method]++
	t.mu.Unlock()
}

// proxyFailed records a call the tap could not pass on.
func (t *replyTap) proxyFailed(method string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.failed++
	if len(t.samples) < 5 {
		t.samples = append(t.samples, method+" through the tap: "+truncate(err.Error(), 160))
	}
}

// observe handles one answered sendMessage or editMessageText.
func (t *replyTap) observe(method string, body []byte, at time.Time) {
	chatID, text, err := parseSentText(body)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.calls[method]++
	if err != nil {
		t.failed++
		if len(t.samples) < 5 {
			t.samples = append(t.samples, method+": "+truncate(err.Error(), 160))
		}
		return
	}
	if strings.TrimSpace(text) == policy.FloodNotice {
		t.notices[chatID]++
	}
	for _, seq := range parseMarkers(text) {
		if ch, ok := t.waiting[seq]; ok {
			ch <- at // buffered, and deleted at once: never blocks
			delete(t.waiting, seq)
			t.seen[seq] = struct{}{}
		} else if _, ok := t.seen[seq]; !ok {
			t.late++
		}
	}
}

// tapStats is a snapshot of the tap's counters.
type tapStats struct {
	calls   map[string]int
	failed  int
	samples []string
	late    int
}

func (t *replyTap) stats() tapStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := tapStats{calls: map[string]int{}, failed: t.failed, samples: append([]string(nil), t.samples...), late: t.late}
	for k, v := range t.calls {
		s.calls[k] = v
	}
	return s
}

// noticesTo returns how many flood notices chat received.
func (t *replyTap) noticesTo(chatID int64) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.notices[chatID]
}
