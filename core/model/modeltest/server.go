// Package modeltest is a scripted loopback model server for tests and
// benchmarks. One httptest server speaks both the OpenAI Chat Completions and
// the Anthropic Messages wire formats (streaming SSE and plain JSON), records
// every request decoded into chat types, and answers from a queue of Replies
// or a default function. Because it is real HTTP on 127.0.0.1, child processes
// (for example `genos gateway` started by a test) can use it as their model
// endpoint too.
package modeltest

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/genos-project/genos/core/chat"
)

// Reply scripts one answer.
type Reply struct {
	Text         string          // assistant text, streamed in word-sized chunks
	Chunks       []string        // explicit chunks (overrides splitting Text)
	ToolCalls    []chat.ToolCall // tool calls to emit (ID auto-filled if empty, Arguments "{}" if empty)
	ChunkDelay   time.Duration   // delay before each streamed chunk (slow streams)
	Status       int             // non-zero: answer with this HTTP status and a provider-shaped error body
	ErrorMessage string          // message in the error body (a default per status otherwise)
	RetryAfter   string          // Retry-After header value for error replies
	Usage        chat.Usage      // reported usage (defaults to small non-zero numbers)
	Hang         bool            // stream the text chunks, then block until the client goes away (abort tests)
	Disconnect   bool            // stream the text chunks, then drop the connection (network failure mid-stream)
	StopReason   string          // "" (stop, or tool_calls when there are calls) | "length" | any raw provider value
}

// Wire formats, as recorded in RecordedRequest.Format.
const (
	FormatOpenAI    = "openai"
	FormatAnthropic = "anthropic"
)

// RecordedRequest is one request the server received, decoded.
type RecordedRequest struct {
	Method       string
	Path         string
	Format       string // FormatOpenAI | FormatAnthropic
	Model        string
	Stream       bool
	IncludeUsage bool // OpenAI stream_options.include_usage
	MaxTokens    int  // max_tokens, or max_completion_tokens for OpenAI
	System       string
	Messages     []chat.Message // system messages are in System; tool results are RoleTool
	Tools        []string       // tool names
	Headers      http.Header    // including Authorization / X-Api-Key
	Body         []byte         // raw request body
}

// Server is the loopback model server. All methods are safe for concurrent use.
type Server struct {
	srv       *httptest.Server
	done      chan struct{} // closed by Close so hanging handlers return
	closeOnce sync.Once

	mu       sync.Mutex
	queue    []Reply
	def      func(RecordedRequest) Reply
	reqs     []RecordedRequest
	models   []string
	strict   bool
	key      string
	sequence int
}

// New starts a server on 127.0.0.1 with a random port.
func New() *Server {
	s := &Server{done: make(chan struct{}), def: Echo}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Echo is the default reply function: it answers "echo: <last user text>".
func Echo(req RecordedRequest) Reply {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == chat.RoleUser {
			return Reply{Text: "echo: " + req.Messages[i].Content}
		}
	}
	return Reply{Text: "echo: "}
}

// URL returns the base URL ending in /v1, e.g. http://127.0.0.1:PORT/v1. It
// is the OpenAI base URL; core/model's Anthropic provider accepts it too
// because it strips a trailing /v1.
func (s *Server) URL() string { return s.srv.URL + "/v1" }

// OpenAIURL returns the base URL an OpenAI client expects (same as URL).
func (s *Server) OpenAIURL() string { return s.URL() }

// AnthropicURL returns the base URL an Anthropic client expects (no /v1;
// the client appends v1/messages).
func (s *Server) AnthropicURL() string { return s.srv.URL }

// Enqueue adds replies, used in order before the default.
func (s *Server) Enqueue(r ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, r...)
}

// SetDefault sets the function used when the queue is empty (nil restores Echo).
func (s *Server) SetDefault(f func(req RecordedRequest) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		f = Echo
	}
	s.def = f
}

// SetModels sets the models served on GET /v1/models (both formats) and
// checked when StrictModels is on.
func (s *Server) SetModels(models []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.models = slices.Clone(models)
}

// StrictModels makes requests for a model not in SetModels fail with 404.
func (s *Server) StrictModels(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.strict = on
}

// RequireKey makes every request carry key (Authorization: Bearer for
// OpenAI, x-api-key for Anthropic) or get 401. "" turns the check off.
func (s *Server) RequireKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = key
}

// Requests returns every request received so far, in arrival order,
// including ones answered with an error.
func (s *Server) Requests() []RecordedRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Pending returns how many enqueued replies are still unused.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Close stops the server, releasing hanging and slow handlers first.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
}

// maxBody bounds request bodies.
const maxBody = 32 << 20

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	format := formatOf(r)
	rec := RecordedRequest{Method: r.Method, Path: r.URL.Path, Format: format, Headers: r.Header.Clone(), Body: body}
	route := routeOf(r)
	var decodeErr error
	switch {
	case err != nil:
		decodeErr = fmt.Errorf("reading body: %w", err)
	case route == routeChat:
		decodeErr = decodeOpenAI(body, &rec)
	case route == routeMessages:
		decodeErr = decodeAnthropic(body, &rec)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, rec)
	key, strict, models := s.key, s.strict, slices.Clone(s.models)
	s.mu.Unlock()

	if route == routeUnknown {
		writeError(w, format, http.StatusNotFound, "", fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path), "")
		return
	}
	if key != "" && !authorized(r, format, key) {
		writeError(w, format, http.StatusUnauthorized, "", "", "")
		return
	}
	if decodeErr != nil {
		writeError(w, format, http.StatusBadRequest, "", decodeErr.Error(), "")
		return
	}
	if route == routeModels {
		writeModels(w, format, models)
		return
	}
	if strict && !slices.Contains(models, rec.Model) {
		writeError(w, format, http.StatusNotFound, rec.Model, "", "")
		return
	}
	reply := s.next(rec)
	if reply.Status != 0 {
		writeError(w, format, reply.Status, rec.Model, reply.ErrorMessage, reply.RetryAfter)
		return
	}
	reply = s.fill(reply, format)
	st := &stream{w: w, r: r, done: s.done, delay: reply.ChunkDelay}
	switch {
	case format == FormatOpenAI && rec.Stream:
		s.streamOpenAI(st, rec, reply)
	case format == FormatOpenAI:
		s.jsonOpenAI(st, rec, reply)
	case rec.Stream:
		s.streamAnthropic(st, rec, reply)
	default:
		s.jsonAnthropic(st, rec, reply)
	}
}

// next pops the queue or asks the default function.
func (s *Server) next(rec RecordedRequest) Reply {
	s.mu.Lock()
	if len(s.queue) > 0 {
		r := s.queue[0]
		s.queue = s.queue[1:]
		s.mu.Unlock()
		return r
	}
	def := s.def
	s.mu.Unlock()
	return def(rec)
}

// fill applies defaults: chunks, tool call IDs and arguments, usage.
func (s *Server) fill(r Reply, format string) Reply {
	if len(r.Chunks) == 0 {
		r.Chunks = splitWords(r.Text)
	}
	r.Text = strings.Join(r.Chunks, "")
	calls := make([]chat.ToolCall, len(r.ToolCalls))
	for i, tc := range r.ToolCalls {
		if tc.ID == "" {
			if format == FormatAnthropic {
				tc.ID = s.newID("toolu_")
			} else {
				tc.ID = s.newID("call_")
			}
		}
		if len(strings.TrimSpace(string(tc.Arguments))) == 0 {
			tc.Arguments = []byte("{}")
		}
		calls[i] = tc
	}
	r.ToolCalls = calls
	if r.Usage == (chat.Usage{}) {
		r.Usage = chat.Usage{InputTokens: 12, OutputTokens: int64(max(1, len(r.Chunks)+3*len(r.ToolCalls)))}
	}
	return r
}

func (s *Server) newID(prefix string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sequence++
	return fmt.Sprintf("%s%04d", prefix, s.sequence)
}

type route int

const (
	routeUnknown route = iota
	routeChat
	routeMessages
	routeModels
)

func routeOf(r *http.Request) route {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/chat/completions":
		return routeChat
	case r.Method == http.MethodPost && r.URL.Path == "/v1/messages":
		return routeMessages
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		return routeModels
	}
	return routeUnknown
}

// formatOf decides the wire format: by path for chat, by the headers the
// Anthropic API requires for everything else.
func formatOf(r *http.Request) string {
	switch {
	case r.URL.Path == "/v1/messages":
		return FormatAnthropic
	case r.URL.Path == "/v1/chat/completions":
		return FormatOpenAI
	case r.Header.Get("Anthropic-Version") != "" || r.Header.Get("X-Api-Key") != "":
		return FormatAnthropic
	}
	return FormatOpenAI
}

func authorized(r *http.Request, format, key string) bool {
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	if format == FormatAnthropic && eq(r.Header.Get("X-Api-Key"), key) {
		return true
	}
	return eq(r.Header.Get("Authorization"), "Bearer "+key)
}

// splitWords cuts text after each space, so streams have several deltas.
func splitWords(text string) []string {
	var out []string
	for _, p := range strings.SplitAfter(text, " ") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// splitN cuts s into up to n pieces on rune boundaries (argument fragments).
func splitN(s string, n int) []string {
	r := []rune(s)
	if len(r) <= n {
		if s == "" {
			return nil
		}
		out := make([]string, len(r))
		for i, c := range r {
			out[i] = string(c)
		}
		return out
	}
	size := (len(r) + n - 1) / n
	var out []string
	for i := 0; i < len(r); i += size {
		out = append(out, string(r[i:min(i+size, len(r))]))
	}
	return out
}

// stream writes SSE events with optional pacing and stops when the client
// or the server goes away.
type stream struct {
	w     http.ResponseWriter
	r     *http.Request
	done  <-chan struct{}
	delay time.Duration
}

// start writes the response headers for an event stream.
func (st *stream) start() {
	h := st.w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	st.w.WriteHeader(http.StatusOK)
}

// event writes one SSE event (name may be "") and flushes. It reports
// whether the client is still there.
func (st *stream) event(name string, data []byte) bool {
	if name != "" {
		if _, err := fmt.Fprintf(st.w, "event: %s\n", name); err != nil {
			return false
		}
	}
	if _, err := fmt.Fprintf(st.w, "data: %s\n\n", data); err != nil {
		return false
	}
	if f, ok := st.w.(http.Flusher); ok {
		f.Flush()
	}
	return st.r.Context().Err() == nil
}

// pause waits ChunkDelay; false means the client or server went away.
func (st *stream) pause() bool {
	if st.delay <= 0 {
		return st.r.Context().Err() == nil
	}
	t := time.NewTimer(st.delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-st.r.Context().Done():
	case <-st.done:
	}
	return false
}

// hang blocks until the client or the server goes away.
func (st *stream) hang() {
	select {
	case <-st.r.Context().Done():
	case <-st.done:
	}
}

// interrupt ends the reply early as the Reply asks: Hang blocks, Disconnect
// drops the connection. It reports whether the reply was interrupted.
func (st *stream) interrupt(r Reply) bool {
	switch {
	case r.Hang:
		st.hang()
		return true
	case r.Disconnect:
		// Aborting the handler makes net/http close the connection without
		// terminating the chunked body, as a dropped connection would.
		panic(http.ErrAbortHandler)
	}
	return false
}
