// Package telegramtest is a loopback Telegram Bot API server for tests of
// the Telegram adapter and of everything above it (the daemon end to end).
//
// It speaks the real wire format: POST /bot<token>/<method> with JSON,
// urlencoded or multipart bodies, {"ok":...} replies with error_code,
// description and parameters.retry_after, long-polled getUpdates with real
// offset semantics (updates stay queued until a later poll confirms them,
// and a poll is held until an update arrives or its timeout passes),
// Telegram-HTML parse-mode validation with the 4096 UTF-16 unit limit,
// message edits, getFile and file downloads under /file/bot<token>/. Faults
// can be injected per method: error replies (429 with retry_after, 5xx),
// proxy error pages, dropped connections (for getUpdates: just as updates
// are ready) and hanging requests.
//
// Because it is real HTTP on 127.0.0.1, the adapter under test needs only
// its API URL pointed at URL. Like core/model/modeltest it is a helper for
// tests, so it takes a testing.TB to fail and clean up with.
package telegramtest

import (
	"cmp"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"
)

// The bot the server impersonates by default.
const (
	// Token is the bot token the server accepts until SetToken changes it.
	Token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
	// BotID is the bot's user id, the number before the colon in Token.
	BotID = 123456789
	// BotName is the bot's username (without @), as getMe reports it.
	BotName = "genos_test_bot"
)

// WaitTimeout bounds WaitFor. It only keeps a broken test from hanging; it
// is not a timing assertion.
const WaitTimeout = 10 * time.Second

// Fault is one injected failure, used for the next call of a method (for
// which When, if set, returns true).
type Fault struct {
	// Code is the Bot API error_code, also used as the HTTP status.
	Code int
	// Description is the error description.
	Description string
	// RetryAfter, when positive, is sent as parameters.retry_after.
	RetryAfter int
	// Drop hijacks and closes the connection without a reply. For
	// getUpdates it happens only once an update is ready, as a connection
	// lost mid-poll would.
	Drop bool
	// Hang holds the request until the client gives up.
	Hang bool
	// RawStatus answers with this HTTP status and an HTML body instead of
	// JSON, as a reverse proxy in front of the API does.
	RawStatus int
	// When selects the call the fault applies to; nil matches the next one.
	When func(params map[string]string) bool
}

// Upload is a file sent in a multipart request.
type Upload struct {
	Name string
	Data []byte
}

// Call is one method call the server answered.
type Call struct {
	Method string
	// Params holds every parameter as text: JSON strings unquoted, other
	// JSON values raw (reply_parameters stays an object).
	Params map[string]string
	// Files holds multipart uploads by field name.
	Files map[string]Upload
	// Code is 0 for a success, the error code for a failure, and -1 for a
	// dropped or hung request.
	Code int
}

// File is a file the bot can fetch with getFile and download.
type File struct {
	UniqueID string
	Path     string // file_path, under /file/bot<token>/
	Size     int64  // file_size reported by getFile; 0 means unknown
	Data     []byte
}

// Message is a text message the bot sent, as it currently stands after any
// edits.
type Message struct {
	Chat int64
	ID   int
	// Text is the text as last sent, Telegram HTML when ParseMode is
	// "HTML".
	Text      string
	ParseMode string
	// Visible is the text a user sees (markup removed, entities decoded).
	Visible string
	// Thread is message_thread_id, "" when absent.
	Thread string
	// Edits counts successful editMessageText calls.
	Edits int
}

type msgKey struct {
	chat int64
	id   int
}

// Server is the loopback Bot API. All methods are safe for concurrent use;
// WaitFor must be called from the test's goroutine.
type Server struct {
	t         testing.TB
	srv       *httptest.Server
	done      chan struct{} // closed by Close so held requests return
	closeOnce sync.Once

	mu       sync.Mutex
	token    string
	changed  chan struct{} // closed and replaced on every change
	updates  []models.Update
	nextUpd  int64
	nextMsg  int
	faults   map[string][]Fault
	calls    []Call
	messages map[msgKey]*Message
	files    map[string]File
	polls    int
}

// New starts a server on 127.0.0.1 with a random port and closes it when
// the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		t: t, token: Token, done: make(chan struct{}), changed: make(chan struct{}), nextUpd: 100, nextMsg: 1,
		faults: map[string][]Fault{}, messages: map[msgKey]*Message{}, files: map[string]File{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL is the Bot API base URL (the adapter's APIURL option).
func (s *Server) URL() string { return s.srv.URL }

// Close releases held requests and stops the server. New registers it
// with the test's cleanup; calling it earlier is allowed.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// SetToken makes the server accept only token (a server that knows
// another bot answers 401 to Token).
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// notifyLocked wakes every waiter; call with mu held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// WaitFor blocks until cond returns true, failing the test after
// WaitTimeout. cond is called without the server's lock held, so it may
// use any method of s; it is evaluated again after every change (an
// update queued or confirmed, a call answered).
func (s *Server) WaitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.NewTimer(WaitTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			s.t.Fatalf("telegramtest: timed out after %s waiting for %s", WaitTimeout, what)
		}
	}
}

// Queue adds an incoming update carrying msg and returns its update_id.
// A zero msg.Date is set to a fixed time.
func (s *Server) Queue(msg *models.Message) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextUpd++
	if msg.Date == 0 {
		msg.Date = 1700000000
	}
	s.updates = append(s.updates, models.Update{ID: s.nextUpd, Message: msg})
	s.notifyLocked()
	return s.nextUpd
}

// Pending returns how many queued updates no poll has confirmed yet.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.updates)
}

// Polls returns how many getUpdates requests arrived. Polls are not
// recorded as calls unless a fault answered them.
func (s *Server) Polls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls
}

// Inject queues a fault for method ("getUpdates", "sendMessage", ...).
// Faults of one method apply in the order injected.
func (s *Server) Inject(method string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], f)
}

// AddFile makes a file available to getFile under fileID.
func (s *Server) AddFile(fileID string, f File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[fileID] = f
}

// Calls returns the answered calls of method, failed ones included, in
// arrival order; "" returns the calls of every method.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// OKCalls returns the successful calls of method ("" for every method).
func (s *Server) OKCalls(method string) []Call {
	var out []Call
	for _, c := range s.Calls(method) {
		if c.Code == 0 {
			out = append(out, c)
		}
	}
	return out
}

// Sent returns the text messages the bot sent to chat, oldest first, each
// as it stands after its edits.
func (s *Server) Sent(chat int64) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for k, m := range s.messages {
		if k.chat == chat {
			out = append(out, *m)
		}
	}
	slices.SortFunc(out, func(a, b Message) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Chats returns the chats the bot sent text messages to, sorted.
func (s *Server) Chats() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[int64]bool{}
	for k := range s.messages {
		seen[k.chat] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *Server) popFault(method string, params map[string]string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.faults[method]
	if len(q) == 0 || (q[0].When != nil && !q[0].When(params)) {
		return Fault{}, false
	}
	s.faults[method] = q[1:]
	return q[0], true
}
