// Package gateway is the hub of the daemon: it serves the WebSocket RPC
// protocol and HTTP endpoints, starts agent runs on sessions and fans their
// progress out as events.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/session"
	"github.com/genos-project/genos/core/store"
)

// Models gives the gateway the currently configured model. It is an
// interface so the daemon can swap providers when the user finishes setup.
type Models interface {
	// Current returns the provider and model name, or ok=false when no model
	// is configured yet.
	Current() (p agent.Provider, providerName, modelName string, ok bool)
	// List asks the provider which models it serves.
	List(ctx context.Context) ([]string, error)
}

// Options wires a Server.
type Options struct {
	Version  string
	StateDir string
	Listen   string // host:port shown in status
	Token    string
	// Agent, Runner, Sessions and Models form the initial Engine. Leave
	// Runner nil to start locked: the daemon calls SetEngine at unlock.
	Agent     agent.Info
	Runner    *agent.Runner
	Sessions  *session.Manager
	Models    Models
	DB        *store.DB
	Approvals *policy.Approvals
	Queue     *session.Queue
	// Vault serves vault.*; nil means this daemon has no vault support
	// wired (vault.status then reports "none").
	Vault Vault
	// Channels serves channels.* and channel.pairing.*; nil answers them
	// UNAVAILABLE.
	Channels     Channels
	Logger       *slog.Logger
	TickInterval time.Duration // 0 = 30s
	// SetupHint is shown to a user who chats before configuring a model.
	SetupHint string
	// OnAuthFailure, when set, hears of every connect with a bad token,
	// for the audit log.
	OnAuthFailure func(remote, client string)
}

// Server is the gateway. Create it with New, serve it with Serve.
type Server struct {
	opts    Options
	log     *slog.Logger
	started time.Time
	auth    *authLimiter

	mu    sync.Mutex
	conns map[*conn]struct{}
	runs  *runTable

	eng atomic.Pointer[Engine] // nil while the vault is locked

	umu       sync.Mutex
	unlocking chan struct{} // non-nil while an unlock is in progress; closed when it ends

	baseCtx context.Context
	cancel  context.CancelFunc
}

// New builds a Server. It serves nothing until Serve is called.
func New(o Options) (*Server, error) {
	if o.DB == nil || o.Approvals == nil || o.Queue == nil {
		return nil, errors.New("gateway: db, approvals and queue are required")
	}
	var eng *Engine
	if o.Runner != nil {
		eng = &Engine{Agent: o.Agent, Runner: o.Runner, Sessions: o.Sessions, Models: o.Models}
		if err := eng.validate(); err != nil {
			return nil, err
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TickInterval <= 0 {
		o.TickInterval = 30 * time.Second
	}
	if o.SetupHint == "" {
		o.SetupHint = "No model is configured yet. Run `genos setup` (or use Set Up Model… in the Genos menu) to choose a provider and model."
	}
	s := &Server{
		opts:    o,
		log:     o.Logger,
		started: time.Now(),
		auth:    newAuthLimiter(),
		conns:   make(map[*conn]struct{}),
		runs:    newRunTable(),
	}
	// Runs and connections live in a context of their own, made here so
	// that runs can start (messages held while locked) before Serve.
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	s.eng.Store(eng)
	return s, nil
}

// handler returns the HTTP handler: /ws for the protocol, /health for probes.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", s.handleHealth)
	mux.HandleFunc("/ws", s.handleWS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r) {
			http.Error(w, "forbidden host", http.StatusForbidden)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// hostAllowed defends a loopback gateway against DNS rebinding: a web page
// whose name resolves to 127.0.0.1 reaches the port with its own name in
// Host (and a matching Origin, which the WebSocket origin check accepts),
// so requests over TCP must name a loopback host. A gateway deliberately
// bound to another address serves whatever name clients use for it.
func (s *Server) hostAllowed(r *http.Request) bool {
	if _, _, err := net.SplitHostPort(r.RemoteAddr); err != nil {
		return true // the in-memory listener: no network, no browser
	}
	if !isLoopbackAddr(s.opts.Listen) {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return isLoopbackHost(host)
}

func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && isLoopbackHost(host)
}

func isLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(s.health())
}

func (s *Server) health() api.HealthResult {
	return api.HealthResult{OK: true, Version: s.opts.Version, UptimeMs: time.Since(s.started).Milliseconds(), Warnings: s.warnings()}
}

func (s *Server) warnings() []string {
	e := s.eng.Load()
	if e == nil {
		return []string{"vault locked"}
	}
	if _, _, _, ok := e.Models.Current(); !ok {
		return []string{"no model configured"}
	}
	return nil
}

// CheckBind refuses a non-loopback listen address unless a token protects it.
func CheckBind(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("gateway listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		return nil
	}
	if token == "" {
		return fmt.Errorf("refusing to listen on %s without a gateway token: only loopback addresses may run without auth", addr)
	}
	return nil
}

// Serve serves the gateway on every listener until ctx ends, then shuts down
// within grace: open connections are closed and active runs are aborted.
func (s *Server) Serve(ctx context.Context, grace time.Duration, listeners ...net.Listener) error {
	for _, l := range listeners {
		if l.Addr().Network() == "tcp" {
			if err := CheckBind(l.Addr().String(), s.opts.Token); err != nil {
				return err
			}
		}
	}
	// Runs and connections live in a context of their own: they are ended
	// deliberately below (runs aborted so their transcripts say so) rather
	// than cut off the moment ctx is cancelled.
	defer s.cancel()
	srv := &http.Server{
		Handler:           s.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.baseCtx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serve %s: %w", l.Addr(), err)
			}
		}()
	}
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		s.tickLoop(ctx)
	}()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	s.runs.abortAll()
	s.cancel() // ends every connection's context, so hijacked WebSockets close
	s.closeConns()
	err := srv.Shutdown(shutCtx)
	s.runs.wait(shutCtx)
	<-tickDone
	if serveErr != nil {
		return serveErr
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func (s *Server) tickLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.broadcast(api.EventTick, api.TickEvent{TS: now.UnixMilli()})
		}
	}
}

func (s *Server) addConn(c *conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Server) closeConns() {
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.close("gateway shutting down")
	}
}

// broadcast sends an event to every authenticated connection. The payload is
// encoded once; a connection too slow to keep up is dropped rather than
// allowed to stall everyone else.
func (s *Server) broadcast(name string, payload any) { s.broadcastSession(name, "", payload) }

// broadcastSession is broadcast for an event about one session: connections
// scoped to their own sessions get it only if they have used sessionKey.
func (s *Server) broadcastSession(name, sessionKey string, payload any) {
	ev, err := encodeEvent(name, payload)
	if err != nil {
		s.log.Error("encode event", "event", name, "err", err)
		return
	}
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		if sessionKey == "" || c.wants(sessionKey) {
			c.sendEvent(ev)
		}
	}
}

// encodedEvent is an event frame serialised up to its per-connection
// sequence number, so fan-out to many clients costs one encoding.
type encodedEvent []byte

func encodeEvent(name string, payload any) (encodedEvent, error) {
	f, err := api.NewEvent(name, payload)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(f) // seq is zero here, so omitted
	if err != nil {
		return nil, err
	}
	// Reopen the object to append ,"seq":N} per connection.
	return encodedEvent(append(b[:len(b)-1:len(b)-1], `,"seq":`...)), nil
}

// NotifyApproval turns approval queue events into protocol events. The daemon
// passes it to policy.NewApprovals.
func (s *Server) NotifyApproval(e policy.Event) {
	switch e.Kind {
	case policy.EventRequested:
		s.broadcast(api.EventApprovalRequested, approvalView(e.Request))
	case policy.EventResolved:
		s.broadcast(api.EventApprovalResolved, api.ApprovalResolvedEvent{
			ID: e.Request.ID, SessionKey: e.Request.SessionKey, Tool: e.Request.Tool, Decision: string(e.Decision),
		})
	}
}

func approvalView(r policy.Request) api.Approval {
	return api.Approval{
		ID: r.ID, AgentID: r.AgentID, SessionKey: r.SessionKey, RunID: r.RunID, Tool: r.Tool, Category: r.Category,
		Args: r.Args, Reason: r.Reason, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt,
	}
}
