package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/genos-project/genos/core/api"
)

const (
	// handshakeTimeout bounds how long a client may take to send connect.
	handshakeTimeout = 10 * time.Second
	// hardReadLimit is where the WebSocket library drops the connection; frames
	// between api.MaxFrameBytes and this are drained and answered with an error
	// so a client bug does not cost the whole connection.
	hardReadLimit = 2 * api.MaxFrameBytes
	// outQueue bounds frames waiting for a slow client before it is dropped.
	outQueue = 1024
	// maxInflight bounds concurrently handled requests per connection; the
	// read loop waits when it is reached, which pushes back on the client.
	maxInflight  = 32
	writeTimeout = 10 * time.Second
)

// outFrame is a frame for the writer, or (closing set) an instruction to
// close the connection once everything queued before it has been written.
type outFrame struct {
	frame   api.Frame
	event   encodedEvent // set instead of frame for broadcast events
	closing bool
	code    websocket.StatusCode
	reason  string
}

type conn struct {
	s      *Server
	ws     *websocket.Conn
	id     string
	remote string
	log    *slog.Logger

	out       chan outFrame
	closeOnce sync.Once

	// With scope "own", chat and agent events reach this connection only
	// for the sessions it has used.
	scopeOwn bool
	joinMu   sync.Mutex
	joined   map[string]bool
	done     chan struct{}
	seq      uint64 // owned by the writer goroutine
}

func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil) // default origin check refuses cross-site browser pages
	if err != nil {
		s.log.Debug("websocket accept failed", "err", err)
		return
	}
	ws.SetReadLimit(hardReadLimit)
	c := &conn{
		s:      s,
		ws:     ws,
		id:     newID("conn_"),
		remote: remoteHost(r),
		out:    make(chan outFrame, outQueue),
		done:   make(chan struct{}),
	}
	c.log = s.log.With("conn", c.id)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go c.writeLoop(ctx)
	c.serve(ctx)
	c.close("")
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func (c *conn) serve(ctx context.Context) {
	nonce := newID("")
	ch, _ := api.NewEvent(api.EventChallenge, api.Challenge{Nonce: nonce, TS: time.Now().UnixMilli()})
	if !c.enqueue(ch) {
		return
	}
	if !c.handshake(ctx, nonce) {
		return
	}
	c.s.addConn(c)
	defer c.s.removeConn(c)

	sem := make(chan struct{}, maxInflight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		data, tooBig, err := c.read(ctx)
		if err != nil {
			if !isNormalClose(err) {
				c.log.Debug("connection read ended", "err", err)
			}
			return
		}
		if tooBig {
			c.enqueue(api.NewErrorResponse("", api.Errorf(api.CodeTooLarge, "frame exceeds the %d byte limit", api.MaxFrameBytes)))
			continue
		}
		f, err := api.DecodeFrame(data)
		if err != nil {
			c.enqueue(api.NewErrorResponse(idOf(data), asShape(err)))
			continue
		}
		if f.Type != api.TypeRequest {
			c.enqueue(api.NewErrorResponse(f.ID, api.Errorf(api.CodeInvalidRequest, "clients may only send requests")))
			continue
		}
		if f.Method == api.MethodConnect {
			c.enqueue(api.NewErrorResponse(f.ID, api.Errorf(api.CodeInvalidRequest, "already connected")))
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.enqueue(c.s.dispatch(ctx, c, f))
		}()
	}
}

// handshake expects connect as the first frame and checks the token. It
// reports whether the connection may proceed.
func (c *conn) handshake(ctx context.Context, nonce string) bool {
	if c.s.auth.blocked(c.remote) {
		c.enqueue(api.NewErrorResponse("", api.Errorf(api.CodeRateLimited, "too many failed connection attempts; try again later")))
		c.flushAndClose(websocket.StatusPolicyViolation, "rate limited")
		return false
	}
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	data, tooBig, err := c.read(hctx)
	if err != nil {
		c.close("no connect request")
		return false
	}
	fail := func(id string, e *api.ErrorShape, reason string) bool {
		c.enqueue(api.NewErrorResponse(id, e))
		c.flushAndClose(websocket.StatusPolicyViolation, reason)
		return false
	}
	if tooBig {
		return fail("", api.Errorf(api.CodeTooLarge, "frame exceeds the size limit"), "frame too large")
	}
	f, err := api.DecodeFrame(data)
	if err != nil {
		return fail(idOf(data), asShape(err), "bad first frame")
	}
	if f.Type != api.TypeRequest || f.Method != api.MethodConnect {
		return fail(f.ID, api.Errorf(api.CodeInvalidRequest, "the first request must be connect"), "connect expected")
	}
	var p api.ConnectParams
	if err := api.DecodeParams(f.Params, &p); err != nil {
		return fail(f.ID, asShape(err), "bad connect params")
	}
	if p.MinProtocol > api.ProtocolVersion || (p.MaxProtocol != 0 && p.MaxProtocol < api.ProtocolVersion) {
		return fail(f.ID, api.Errorf(api.CodeInvalidRequest, "protocol %d-%d not supported; this gateway speaks %d",
			p.MinProtocol, p.MaxProtocol, api.ProtocolVersion), "protocol mismatch")
	}
	if p.Nonce != "" && p.Nonce != nonce {
		return fail(f.ID, api.Errorf(api.CodeUnauthorized, "connect answered a different challenge"), "nonce mismatch")
	}
	if c.s.opts.Token != "" && !tokenEqual(p.Auth.Token, c.s.opts.Token) {
		c.s.auth.fail(c.remote)
		c.log.Warn("gateway auth failed", "remote", c.remote, "client", p.Client.ID)
		if c.s.opts.OnAuthFailure != nil {
			c.s.opts.OnAuthFailure(c.remote, truncate(p.Client.ID, 64))
		}
		return fail(f.ID, api.Errorf(api.CodeUnauthorized, "invalid gateway token"), "unauthorized")
	}
	switch p.Scope {
	case "", api.ScopeAll:
	case api.ScopeOwn:
		c.scopeOwn = true
	default:
		return fail(f.ID, api.Errorf(api.CodeInvalidRequest, "scope must be %q or %q", api.ScopeAll, api.ScopeOwn), "bad scope")
	}
	c.s.auth.succeed(c.remote)
	hello := api.HelloOK{
		Type:     "hello-ok",
		Protocol: api.ProtocolVersion,
		Server:   api.Server{Version: c.s.opts.Version, ConnID: c.id},
		Methods:  api.Methods,
		Events:   api.Events,
		TickMs:   int(c.s.opts.TickInterval / time.Millisecond),
	}
	res, err := api.NewResponse(f.ID, hello)
	if err != nil {
		return false
	}
	c.log.Debug("client connected", "client", p.Client.ID, "mode", p.Client.Mode)
	return c.enqueue(res)
}

// read returns the next text frame. A frame over api.MaxFrameBytes is drained
// without buffering it and reported as tooBig.
func (c *conn) read(ctx context.Context) (data []byte, tooBig bool, err error) {
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return nil, false, err
	}
	data, err = io.ReadAll(io.LimitReader(r, api.MaxFrameBytes+1))
	if err != nil {
		return nil, false, err
	}
	if len(data) > api.MaxFrameBytes {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return nil, false, err
		}
		return nil, true, nil
	}
	if typ != websocket.MessageText {
		// Binary frames are not part of the protocol; report them like garbage.
		return []byte{0}, false, nil
	}
	return data, false, nil
}

// enqueue hands a frame to the writer. It reports false when the connection
// is gone or hopelessly behind (and then closes it).
func (c *conn) enqueue(f api.Frame) bool { return c.enqueueOut(outFrame{frame: f}) }

func (c *conn) enqueueOut(o outFrame) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	select {
	case c.out <- o:
		return true
	case <-c.done:
		return false
	default:
		c.log.Warn("client too slow, dropping connection")
		// CloseNow, not a close handshake: this runs on the broadcaster's
		// goroutine (another session's run, the tick loop), which must not
		// wait on a socket nobody reads.
		c.closeOnce.Do(func() {
			close(c.done)
			_ = c.ws.CloseNow()
		})
		return false
	}
}

func (c *conn) sendEvent(ev encodedEvent) { c.enqueueOut(outFrame{event: ev}) }

// maxJoined bounds the sessions one connection tracks; past it the
// connection simply receives every session's events.
const maxJoined = 4096

// join records that this connection uses sessionKey.
func (c *conn) join(sessionKey string) {
	c.joinMu.Lock()
	defer c.joinMu.Unlock()
	if !c.scopeOwn {
		return
	}
	if c.joined == nil {
		c.joined = make(map[string]bool)
	}
	if len(c.joined) >= maxJoined {
		c.scopeOwn = false
		return
	}
	c.joined[sessionKey] = true
}

// wants reports whether events of sessionKey go to this connection.
func (c *conn) wants(sessionKey string) bool {
	c.joinMu.Lock()
	defer c.joinMu.Unlock()
	return !c.scopeOwn || c.joined[sessionKey]
}

func (c *conn) writeLoop(ctx context.Context) {
	for {
		select {
		case <-c.done:
			return
		case <-ctx.Done():
			return
		case o := <-c.out:
			if o.closing {
				c.closeOnce.Do(func() {
					close(c.done)
					_ = c.ws.Close(o.code, o.reason)
				})
				return
			}
			var data []byte
			if o.event != nil {
				c.seq++
				data = strconv.AppendUint(append(make([]byte, 0, len(o.event)+24), o.event...), c.seq, 10)
				data = append(data, '}')
			} else {
				f := o.frame
				if f.Type == api.TypeEvent {
					c.seq++
					f.Seq = c.seq
				}
				var err error
				if data, err = json.Marshal(f); err != nil {
					c.log.Error("encode frame", "err", err)
					continue
				}
			}
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := c.ws.Write(wctx, websocket.MessageText, data)
			cancel()
			if err != nil {
				c.close("")
				return
			}
		}
	}
}

// flushAndClose closes with code once the writer has sent every frame queued
// so far, so the client gets the error that explains the close.
func (c *conn) flushAndClose(code websocket.StatusCode, reason string) {
	select {
	case c.out <- outFrame{closing: true, code: code, reason: reason}:
	case <-c.done:
	default:
		c.close(reason)
		return
	}
	select {
	case <-c.done:
	case <-time.After(writeTimeout):
		c.close(reason)
	}
}

func (c *conn) close(reason string) {
	c.closeOnce.Do(func() {
		close(c.done)
		if reason == "" {
			_ = c.ws.CloseNow()
			return
		}
		_ = c.ws.Close(websocket.StatusGoingAway, reason)
	})
}

func isNormalClose(err error) bool {
	s := websocket.CloseStatus(err)
	return s == websocket.StatusNormalClosure || s == websocket.StatusGoingAway || errors.Is(err, context.Canceled)
}

// idOf recovers a request id from a frame that failed validation, so the
// client can match the error to its request.
func idOf(data []byte) string {
	var probe struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(data, &probe) != nil || len(probe.ID) > 128 {
		return ""
	}
	return probe.ID
}

func asShape(err error) *api.ErrorShape {
	var e *api.ErrorShape
	if errors.As(err, &e) {
		return e
	}
	return api.Errorf(api.CodeInvalidRequest, "%v", err)
}
