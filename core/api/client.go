package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
)

// ErrClosed is returned by calls on a client whose connection has ended.
var ErrClosed = errors.New("connection to the gateway is closed")

// DialOptions configures Dial.
type DialOptions struct {
	// URL is the WebSocket endpoint, e.g. ws://127.0.0.1:18789/ws.
	URL string
	// Token is the gateway token.
	Token string
	// Client identifies this client to the gateway.
	Client ClientInfo
	// HTTPClient lets callers dial over something other than TCP, such as the
	// tray app's in-memory listener.
	HTTPClient *http.Client
	// Scope is ScopeAll (default) or ScopeOwn: receive chat and agent events
	// only for sessions this client sends to, reads or aborts.
	Scope string
}

// Client is a connected, authenticated gateway client. It is safe for
// concurrent use.
type Client struct {
	conn  *websocket.Conn
	hello HelloOK

	nextID  atomic.Uint64
	writeMu sync.Mutex

	mu      sync.Mutex
	pending map[string]chan Frame
	subs    map[int]chan Frame
	nextSub int
	err     error

	done chan struct{}
	// readCtx bounds the read loop; Close cancels it.
	readCtx   context.Context
	stopReads context.CancelFunc
}

// Dial connects, performs the challenge/connect handshake and returns a
// ready client.
func Dial(ctx context.Context, opts DialOptions) (*Client, error) {
	if opts.Client.ID == "" {
		opts.Client.ID = "genos-client"
	}
	if opts.Client.Platform == "" {
		opts.Client.Platform = runtime.GOOS
	}
	conn, _, err := websocket.Dial(ctx, opts.URL, &websocket.DialOptions{HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, fmt.Errorf("connect to gateway at %s: %w", opts.URL, err)
	}
	conn.SetReadLimit(MaxFrameBytes)

	// The first frame must be the challenge; its nonce is echoed back.
	var ch Challenge
	if err := readChallenge(ctx, conn, &ch); err != nil {
		conn.Close(websocket.StatusProtocolError, "bad challenge")
		return nil, err
	}
	c := &Client{
		conn:    conn,
		pending: make(map[string]chan Frame),
		subs:    make(map[int]chan Frame),
		done:    make(chan struct{}),
	}
	// The connection outlives the dial deadline, so its reads must not
	// inherit it.
	c.readCtx, c.stopReads = context.WithCancel(context.WithoutCancel(ctx))
	go c.readLoop()

	params := ConnectParams{
		MinProtocol: ProtocolVersion,
		MaxProtocol: ProtocolVersion,
		Client:      opts.Client,
		Auth:        Auth{Token: opts.Token},
		Nonce:       ch.Nonce,
		Scope:       opts.Scope,
	}
	if err := c.Call(ctx, MethodConnect, params, &c.hello); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func readChallenge(ctx context.Context, conn *websocket.Conn, ch *Challenge) error {
	_, data, err := conn.Read(ctx)
	if err != nil {
		return fmt.Errorf("read gateway challenge: %w", err)
	}
	f, err := DecodeFrame(data)
	if err != nil {
		return fmt.Errorf("read gateway challenge: %w", err)
	}
	if f.Type != TypeEvent || f.Event != EventChallenge {
		return fmt.Errorf("gateway did not send a connect challenge (got %s %s)", f.Type, f.Event)
	}
	return json.Unmarshal(f.Payload, ch)
}

// Hello returns the server's hello-ok.
func (c *Client) Hello() HelloOK { return c.hello }

// Done is closed when the connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err reports why the connection ended, once Done is closed.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection.
func (c *Client) Close() error {
	err := c.conn.Close(websocket.StatusNormalClosure, "bye")
	c.stopReads()
	return err
}

// Subscribe returns a channel receiving every event frame from now on and a
// function that stops the subscription. Events for a subscriber that falls
// more than buf frames behind are dropped rather than stalling the
// connection; size buf for the burst you expect.
func (c *Client) Subscribe(buf int) (<-chan Frame, func()) {
	if buf <= 0 {
		buf = 1024
	}
	ch := make(chan Frame, buf)
	c.mu.Lock()
	id := c.nextSub
	c.nextSub++
	if c.err != nil {
		close(ch)
	} else {
		c.subs[id] = ch
	}
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if s, ok := c.subs[id]; ok {
			delete(c.subs, id)
			close(s)
		}
	}
}

// Call sends a request and decodes the response payload into out (which may
// be nil). A failed response is returned as *ErrorShape.
func (c *Client) Call(ctx context.Context, method string, params, out any) error {
	id := fmt.Sprintf("c%d-%s", c.nextID.Add(1), randomHex(4))
	req, err := NewRequest(id, method, params)
	if err != nil {
		return err
	}
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("encode %s: %w", method, err)
	}
	resp := make(chan Frame, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return ErrClosed
	}
	c.pending[id] = resp
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()

	c.writeMu.Lock()
	err = c.conn.Write(ctx, websocket.MessageText, data)
	c.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("send %s: %w", method, err)
	}
	select {
	case f := <-resp:
		if f.OK == nil || !*f.OK {
			if f.Error != nil {
				return f.Error
			}
			return Errorf(CodeInternal, "%s failed without an error body", method)
		}
		if out != nil && len(f.Payload) > 0 {
			if err := json.Unmarshal(f.Payload, out); err != nil {
				return fmt.Errorf("decode %s result: %w", method, err)
			}
		}
		return nil
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) readLoop() {
	var err error
	defer func() {
		c.mu.Lock()
		c.err = err
		for id, s := range c.subs {
			close(s)
			delete(c.subs, id)
		}
		c.mu.Unlock()
		close(c.done)
	}()
	for {
		var data []byte
		_, data, err = c.conn.Read(c.readCtx)
		if err != nil {
			return
		}
		f, derr := DecodeFrame(data)
		if derr != nil {
			continue // a bad frame from the server is skipped, not fatal
		}
		switch f.Type {
		case TypeResponse:
			c.mu.Lock()
			ch := c.pending[f.ID]
			c.mu.Unlock()
			if ch != nil {
				ch <- f
			}
		case TypeEvent:
			c.mu.Lock()
			for _, s := range c.subs {
				select {
				case s <- f:
				default:
				}
			}
			c.mu.Unlock()
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
