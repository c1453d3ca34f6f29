package gateway_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/daemon"
	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/paths"
)

// env is a real daemon on a loopback port with a loopback model server.
type env struct {
	dir   string
	d     *daemon.Daemon
	model *modeltest.Server
	url   string
	agent string
}

func startEnv(t testing.TB, withModel bool) *env {
	t.Helper()
	dir := t.TempDir()
	m := modeltest.New()
	t.Cleanup(m.Close)
	if withModel {
		cfg := config.Default()
		cfg.Model.Provider = "openai"
		cfg.Model.BaseURL = m.URL()
		cfg.Model.Model = "test-model"
		cfg.Model.MaxRetries = 1
		if err := config.Save(paths.ConfigFile(dir), cfg); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.New(ctx, daemon.Options{StateDir: dir, Version: "test", Listen: "127.0.0.1:0", ShutdownGrace: 2 * time.Second})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("daemon Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("daemon did not shut down within 10s")
		}
		d.Close()
	})
	e := &env{dir: dir, d: d, model: m, url: "ws://" + d.Addr() + "/ws"}
	c := e.dial(t)
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.agent = st.DefaultAgent.ID
	return e
}

func (e *env) mainKey() string { return "agent:" + e.agent + ":main" }

func (e *env) dial(t testing.TB) *api.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := api.Dial(ctx, api.DialOptions{URL: e.url, Token: e.d.Token(), Client: api.ClientInfo{ID: "test", Mode: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// raw opens a WebSocket without the client library and reads the challenge.
func (e *env) raw(t *testing.T) (*websocket.Conn, api.Challenge) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(64 << 20)
	t.Cleanup(func() { ws.CloseNow() })
	f := readFrame(t, ws)
	if f.Type != api.TypeEvent || f.Event != api.EventChallenge {
		t.Fatalf("first frame = %+v, want challenge", f)
	}
	var ch api.Challenge
	if err := json.Unmarshal(f.Payload, &ch); err != nil || ch.Nonce == "" {
		t.Fatalf("challenge payload %s: %v", f.Payload, err)
	}
	return ws, ch
}

// rawConnected performs the handshake over a raw WebSocket.
func (e *env) rawConnected(t *testing.T) *websocket.Conn {
	t.Helper()
	ws, ch := e.raw(t)
	send(t, ws, `{"type":"req","id":"c1","method":"connect","params":{"minProtocol":3,"maxProtocol":3,"client":{"id":"raw"},"auth":{"token":"`+e.d.Token()+`"},"nonce":"`+ch.Nonce+`"}}`)
	res := readResponse(t, ws)
	if res.OK == nil || !*res.OK {
		t.Fatalf("connect failed: %+v", res.Error)
	}
	return ws
}

func send(t *testing.T, ws *websocket.Conn, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func readFrame(t *testing.T, ws *websocket.Conn) api.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	f, err := api.DecodeFrame(data)
	if err != nil {
		t.Fatalf("server sent an invalid frame %q: %v", data, err)
	}
	return f
}

// readResponse skips events (ticks) and returns the next response.
func readResponse(t *testing.T, ws *websocket.Conn) api.Frame {
	t.Helper()
	for {
		f := readFrame(t, ws)
		if f.Type == api.TypeResponse {
			return f
		}
	}
}

func wantErrorCode(t *testing.T, f api.Frame, code string) {
	t.Helper()
	if f.OK == nil || *f.OK || f.Error == nil || f.Error.Code != code {
		t.Fatalf("got %+v (error %+v), want error %s", f, f.Error, code)
	}
}

// waitRun collects events of one run until it ends and returns them.
func waitRun(t *testing.T, events <-chan api.Frame, runID string) []api.ChatEvent {
	t.Helper()
	var got []api.ChatEvent
	timeout := time.After(20 * time.Second)
	for {
		select {
		case f, ok := <-events:
			if !ok {
				t.Fatal("event stream closed")
			}
			if f.Event != api.EventChat {
				continue
			}
			var ev api.ChatEvent
			if err := json.Unmarshal(f.Payload, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.RunID != runID {
				continue
			}
			got = append(got, ev)
			if ev.State != api.ChatDelta {
				return got
			}
		case <-timeout:
			t.Fatalf("run %s did not finish; events so far: %+v", runID, got)
		}
	}
}

func finalText(evs []api.ChatEvent) string {
	last := evs[len(evs)-1]
	if last.Message == nil {
		return ""
	}
	return last.Message.Content
}

func deltas(evs []api.ChatEvent) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Delta)
	}
	return b.String()
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
