// Package fakegw is a fake Genos gateway for UI tests: an httptest server
// speaking the real WebSocket protocol of core/api (challenge, connect,
// hello-ok, requests, events) with canned state for the methods the desktop
// app uses. Tests connect a real api.Client to it, so the UI is exercised
// through exactly the code path it uses against the daemon.
package fakegw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
)

// Handler answers one request; a non-nil error becomes a failed response.
type Handler func(params json.RawMessage) (any, *api.ErrorShape)

// Request is one request the fake received, in arrival order.
type Request struct {
	Method string
	Params json.RawMessage
}

// Decode strictly decodes the request's params into v.
func (r Request) Decode(v any) error { return api.DecodeParams(r.Params, v) }

// Server is the fake gateway. Its zero value is not usable; call New.
type Server struct {
	srv    *httptest.Server
	ctx    context.Context // ends at Close; bounds writes to clients
	cancel context.CancelFunc

	mu        sync.Mutex
	handlers  map[string]Handler
	conns     map[*conn]struct{}
	requests  []Request
	status    api.StatusResult
	history   map[string][]chat.Record
	approvals []api.Approval
	runs      map[string]string // idempotency key -> run id
	nextRun   int
	seq       uint64
	vault     api.VaultStatus
	pass      string // the vault passphrase
	channels  []chat.ChannelStatus
	tokens    map[string]string // channel -> bot token stored "in the vault"
	pairings  []api.PairingRequest
	login     *Login // nil: DefaultLogin
}

type conn struct {
	ws      *websocket.Conn
	writeMu sync.Mutex
}

// New starts a fake gateway that is closed when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := Start(context.WithoutCancel(t.Context()))
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake gateway outside a test (e.g. in TestMain); call Close
// when done. Writes to clients stop when ctx ends or at Close.
func Start(ctx context.Context) *Server {
	ctx, cancel := context.WithCancel(ctx)
	s := &Server{
		ctx:      ctx,
		cancel:   cancel,
		handlers: make(map[string]Handler),
		conns:    make(map[*conn]struct{}),
		history:  make(map[string][]chat.Record),
		runs:     make(map[string]string),
		tokens:   make(map[string]string),
		status: api.StatusResult{
			Version:         "test",
			DefaultAgent:    api.Agent{ID: "main", Name: "Genos"},
			ModelConfigured: true,
			Model:           "test-model",
			Provider:        "openai",
		},
		vault: api.VaultStatus{State: api.VaultUnlocked, IdleLockMinutes: 30},
		pass:  Passphrase,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveWS))
	return s
}

// Close drops every client and stops the server.
func (s *Server) Close() {
	s.cancel()
	s.DropConnections()
	s.srv.Close()
}

// URL is the WebSocket endpoint to pass to api.Dial.
func (s *Server) URL() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/ws" }

// Dial connects a real api.Client to the fake; the client is closed when the
// test ends.
func (s *Server) Dial(t testing.TB) *api.Client {
	t.Helper()
	c, err := s.DialContext(t.Context())
	if err != nil {
		t.Fatalf("dial fake gateway: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// DialContext connects a real api.Client to the fake.
func (s *Server) DialContext(ctx context.Context) (*api.Client, error) {
	return api.Dial(ctx, api.DialOptions{URL: s.URL(), Client: api.ClientInfo{ID: "genos-ui-test", Mode: "test"}})
}

// Handle overrides the answer to method.
func (s *Server) Handle(method string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[method] = h
}

// SetStatus sets the status answer.
func (s *Server) SetStatus(st api.StatusResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = st
}

// SetHistory sets the transcript chat.history returns for sessionKey.
func (s *Server) SetHistory(sessionKey string, records []chat.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history[sessionKey] = records
}

// SetApprovals sets the pending approvals.
func (s *Server) SetApprovals(a []api.Approval) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.approvals = a
}

// Requests returns the requests received for method ("" for all).
func (s *Server) Requests(method string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if method == "" || r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// WaitRequest waits until the fake has received n requests for method and
// returns the n-th. It fails the test after ten seconds, a bound that only
// guards against hangs.
func (s *Server) WaitRequest(t testing.TB, method string, n int) Request {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	r, err := s.AwaitRequest(ctx, method, n)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// AwaitRequest waits until the fake has received n requests for method and
// returns the n-th, or fails when ctx ends.
func (s *Server) AwaitRequest(ctx context.Context, method string, n int) (Request, error) {
	for {
		if rs := s.Requests(method); len(rs) >= n {
			return rs[n-1], nil
		}
		select {
		case <-ctx.Done():
			return Request{}, fmt.Errorf("fake gateway: no request #%d for %s (got %d): %w",
				n, method, len(s.Requests(method)), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Conns reports how many clients are connected.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Emit sends an event to every connected client.
func (s *Server) Emit(event string, payload any) {
	f, err := api.NewEvent(event, payload)
	if err != nil {
		panic(fmt.Sprintf("fakegw: %v", err)) // test payloads always encode
	}
	s.mu.Lock()
	s.seq++
	f.Seq = s.seq
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.write(s.ctx, f)
	}
}

// DropConnections closes every client connection, as a restarting daemon
// would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	conns := s.conns
	s.conns = make(map[*conn]struct{})
	s.mu.Unlock()
	for c := range conns {
		c.ws.Close(websocket.StatusGoingAway, "fake gateway going away")
	}
}

func (c *conn) write(ctx context.Context, f api.Frame) error {
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, data)
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ws" {
		http.NotFound(w, r)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(api.MaxFrameBytes)
	c := &conn{ws: ws}
	ctx := r.Context()
	if err := s.handshake(ctx, c); err != nil {
		ws.Close(websocket.StatusPolicyViolation, err.Error())
		return
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		ws.CloseNow()
	}()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		f, err := api.DecodeFrame(data)
		if err != nil || f.Type != api.TypeRequest {
			return
		}
		s.answer(c, f)
	}
}

// handshake sends the challenge and accepts only a connect request echoing
// its nonce, as the real gateway does.
func (s *Server) handshake(ctx context.Context, c *conn) error {
	const nonce = "fake-nonce"
	ch, err := api.NewEvent(api.EventChallenge, api.Challenge{Nonce: nonce, TS: time.Now().UnixMilli()})
	if err != nil {
		return err
	}
	if err := c.write(ctx, ch); err != nil {
		return err
	}
	_, data, err := c.ws.Read(ctx)
	if err != nil {
		return err
	}
	f, err := api.DecodeFrame(data)
	if err != nil {
		return err
	}
	if f.Type != api.TypeRequest || f.Method != api.MethodConnect {
		return fmt.Errorf("first request must be connect, got %s", f.Method)
	}
	var p api.ConnectParams
	if err := api.DecodeParams(f.Params, &p); err != nil {
		return err
	}
	badScope := p.Scope != "" && p.Scope != api.ScopeAll && p.Scope != api.ScopeOwn
	if p.Nonce != nonce || p.MinProtocol > api.ProtocolVersion || p.MaxProtocol < api.ProtocolVersion || badScope {
		_ = c.write(ctx, api.NewErrorResponse(f.ID, api.Errorf(api.CodeInvalidRequest, "bad connect")))
		return fmt.Errorf("bad connect params")
	}
	resp, err := api.NewResponse(f.ID, api.HelloOK{
		Type: "hello-ok", Protocol: api.ProtocolVersion, Server: api.Server{Version: "test"},
		Methods: api.Methods, Events: api.Events, TickMs: 15000,
	})
	if err != nil {
		return err
	}
	return c.write(ctx, resp)
}

// answer records a request and answers it. channels.login blocks until the
// phone is linked, as the real gateway's does, so it is answered on its own
// goroutine and other requests on the connection keep flowing meanwhile.
func (s *Server) answer(c *conn, f api.Frame) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: f.Method, Params: f.Params})
	h := s.handlers[f.Method]
	if s.vault.State == api.VaultLocked && !servedWhileLocked(f.Method) {
		h = lockedHandler
	}
	s.mu.Unlock()
	if h == nil {
		h = s.builtin(f.Method)
	}
	if f.Method == api.MethodChannelsLogin {
		go s.respond(c, f, h)
		return
	}
	s.respond(c, f, h)
}

func (s *Server) respond(c *conn, f api.Frame, h Handler) {
	var out api.Frame
	payload, e := h(f.Params)
	if e != nil {
		out = api.NewErrorResponse(f.ID, e)
	} else {
		var err error
		if out, err = api.NewResponse(f.ID, payload); err != nil {
			out = api.NewErrorResponse(f.ID, api.Errorf(api.CodeInternal, "%v", err))
		}
	}
	_ = c.write(s.ctx, out)
}

func (s *Server) builtin(method string) Handler {
	switch method {
	case api.MethodHealth:
		return func(json.RawMessage) (any, *api.ErrorShape) { return api.HealthResult{OK: true, Version: "test"}, nil }
	case api.MethodStatus:
		return func(json.RawMessage) (any, *api.ErrorShape) {
			s.mu.Lock()
			defer s.mu.Unlock()
			st := s.status
			st.PendingApprovals = len(s.approvals)
			st.Vault = s.vault.State
			if st.Vault == api.VaultLocked {
				// As the daemon does: sealed state is unknown while locked.
				st.Model, st.Provider, st.ModelConfigured = "", "", false
				st.PendingApprovals, st.ActiveRuns, st.Sessions = 0, 0, 0
			}
			return st, nil
		}
	case api.MethodChatHistory:
		return s.chatHistory
	case api.MethodChatSend:
		return s.chatSend
	case api.MethodChatAbort:
		return func(raw json.RawMessage) (any, *api.ErrorShape) {
			var p api.ChatAbortParams
			if err := decode(raw, &p); err != nil {
				return nil, err
			}
			if p.SessionKey == "" {
				return nil, api.Errorf(api.CodeInvalidRequest, "sessionKey is required")
			}
			return api.ChatAbortResult{Aborted: true, RunID: p.RunID}, nil
		}
	case api.MethodApprovalsList:
		return func(json.RawMessage) (any, *api.ErrorShape) {
			s.mu.Lock()
			defer s.mu.Unlock()
			return api.ApprovalsListResult{Approvals: append([]api.Approval{}, s.approvals...)}, nil
		}
	case api.MethodApprovalsResolve:
		return s.approvalsResolve
	case api.MethodVaultStatus:
		return func(json.RawMessage) (any, *api.ErrorShape) { return s.Vault(), nil }
	case api.MethodVaultUnlock:
		return s.vaultUnlock
	case api.MethodVaultLock:
		return s.vaultLock
	case api.MethodVaultCreate:
		return s.vaultCreate
	}
	if h := s.channelMethod(method); h != nil {
		return h
	}
	return func(json.RawMessage) (any, *api.ErrorShape) {
		return nil, api.Errorf(api.CodeUnknownMethod, "unknown method %s", method)
	}
}

func (s *Server) chatHistory(raw json.RawMessage) (any, *api.ErrorShape) {
	var p api.ChatHistoryParams
	if err := decode(raw, &p); err != nil {
		return nil, err
	}
	if p.SessionKey == "" {
		return nil, api.Errorf(api.CodeInvalidRequest, "sessionKey is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.history[p.SessionKey]
	more := false
	if p.Limit > 0 && len(recs) > p.Limit {
		recs, more = recs[len(recs)-p.Limit:], true
	}
	return api.ChatHistoryResult{SessionKey: p.SessionKey, Records: append([]chat.Record{}, recs...), HasMore: more}, nil
}

func (s *Server) chatSend(raw json.RawMessage) (any, *api.ErrorShape) {
	var p api.ChatSendParams
	if err := decode(raw, &p); err != nil {
		return nil, err
	}
	if p.SessionKey == "" || strings.TrimSpace(p.Message) == "" || p.IdempotencyKey == "" {
		return nil, api.Errorf(api.CodeInvalidRequest, "sessionKey, message and idempotencyKey are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.runs[p.IdempotencyKey]; ok {
		return api.ChatSendResult{RunID: id}, nil
	}
	s.nextRun++
	id := fmt.Sprintf("run-%d", s.nextRun)
	s.runs[p.IdempotencyKey] = id
	return api.ChatSendResult{RunID: id}, nil
}

func (s *Server) approvalsResolve(raw json.RawMessage) (any, *api.ErrorShape) {
	var p api.ApprovalsResolveParams
	if err := decode(raw, &p); err != nil {
		return nil, err
	}
	switch p.Decision {
	case api.DecisionAllowOnce, api.DecisionAllowAlways, api.DecisionDeny:
	default:
		return nil, api.Errorf(api.CodeInvalidRequest, "unknown decision %q", p.Decision)
	}
	s.mu.Lock()
	var found *api.Approval
	for i, a := range s.approvals {
		if a.ID == p.ID {
			found = &a
			s.approvals = append(s.approvals[:i:i], s.approvals[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	if found == nil {
		return nil, api.Errorf(api.CodeNotFound, "no pending approval %s", p.ID)
	}
	// The real gateway broadcasts the decision; emit after the response is
	// queued so clients see the answer first.
	go s.Emit(api.EventApprovalResolved, api.ApprovalResolvedEvent{
		ID: found.ID, SessionKey: found.SessionKey, Tool: found.Tool, Decision: p.Decision,
	})
	return api.ApprovalsResolveResult(p), nil
}

// decode strictly decodes request params, answering INVALID_REQUEST on
// failure as the real gateway does.
func decode(raw json.RawMessage, v any) *api.ErrorShape {
	err := api.DecodeParams(raw, v)
	if err == nil {
		return nil
	}
	var shape *api.ErrorShape
	if errors.As(err, &shape) {
		return shape
	}
	return api.Errorf(api.CodeInvalidRequest, "%v", err)
}
