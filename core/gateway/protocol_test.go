package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/audit"
	"github.com/genos-project/genos/core/daemon"
	"github.com/genos-project/genos/core/gateway"
)

func TestHealthHTTP(t *testing.T) {
	e := startEnv(t, false)
	resp, err := http.Get("http://" + e.d.Addr() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h api.HealthResult
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || !h.OK || h.Version != "test" {
		t.Fatalf("GET /health = %+v, %v", h, err)
	}
	if len(h.Warnings) == 0 || !strings.Contains(h.Warnings[0], "no model") {
		t.Fatalf("health should warn that no model is configured: %+v", h.Warnings)
	}
}

func TestHelloLists(t *testing.T) {
	e := startEnv(t, false)
	c := e.dial(t)
	h := c.Hello()
	if h.Type != "hello-ok" || h.Protocol != api.ProtocolVersion {
		t.Fatalf("hello = %+v", h)
	}
	for _, m := range []string{"health", "status", "chat.send", "chat.history", "chat.abort", "sessions.list", "approvals.list", "approvals.resolve", "models.list"} {
		if !contains(h.Methods, m) {
			t.Errorf("hello-ok lacks method %s", m)
		}
	}
	for _, ev := range []string{"chat", "agent", "approval.requested", "approval.resolved", "tick"} {
		if !contains(h.Events, ev) {
			t.Errorf("hello-ok lacks event %s", ev)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestHandshakeFailures(t *testing.T) {
	e := startEnv(t, false)
	tests := []struct {
		name, first, code string
	}{
		{"wrong first frame", `{"type":"req","id":"1","method":"health"}`, api.CodeInvalidRequest},
		{"garbage first frame", `not json at all`, api.CodeInvalidRequest},
		{"bad token", `{"type":"req","id":"1","method":"connect","params":{"minProtocol":3,"maxProtocol":3,"client":{"id":"x"},"auth":{"token":"0000"}}}`, api.CodeUnauthorized},
		{"no token", `{"type":"req","id":"1","method":"connect","params":{"minProtocol":3,"maxProtocol":3,"client":{"id":"x"},"auth":{}}}`, api.CodeUnauthorized},
		{"protocol too new", `{"type":"req","id":"1","method":"connect","params":{"minProtocol":9,"maxProtocol":9,"client":{"id":"x"},"auth":{}}}`, api.CodeInvalidRequest},
		{"unknown connect field", `{"type":"req","id":"1","method":"connect","params":{"bogus":true}}`, api.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, _ := e.raw(t)
			send(t, ws, tt.first)
			wantErrorCode(t, readResponse(t, ws), tt.code)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, _, err := ws.Read(ctx); websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("connection should be closed with policy violation, got %v", err)
			}
		})
	}
	// The gateway is still healthy for a correct client.
	if _, err := e.dial(t).Health(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestBadTokenIsRateLimited(t *testing.T) {
	e := startEnv(t, false)
	bad := `{"type":"req","id":"1","method":"connect","params":{"minProtocol":3,"maxProtocol":3,"client":{"id":"x"},"auth":{"token":"wrong"}}}`
	for i := 0; i < 10; i++ {
		ws, _ := e.raw(t)
		send(t, ws, bad)
		wantErrorCode(t, readResponse(t, ws), api.CodeUnauthorized)
	}
	ws, _ := e.raw(t)
	wantErrorCode(t, readResponse(t, ws), api.CodeRateLimited)

	f, err := os.Open(daemon.AuditFile(e.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, errs := audit.ReadRecords(f, audit.PlainCodec{})
	n := 0
	for _, r := range recs {
		if r.Event == audit.EventGatewayAuthFailed && r.Fields["remote"] == "127.0.0.1" {
			n++
		}
	}
	if len(errs) > 0 || n != 10 {
		t.Fatalf("audit log has %d auth failures (errors %v), want 10", n, errs)
	}
}

func TestGarbageFramesKeepConnection(t *testing.T) {
	e := startEnv(t, false)
	ws := e.rawConnected(t)
	for _, g := range []string{`garbage`, `{}`, `[]`, `{"type":"req","id":"x"}`, `{"type":"event","event":"tick"}`,
		`{"type":"req","id":"p","method":"health","params":"str"}`, `{"type":"req","id":"c","method":"connect","params":{}}`} {
		send(t, ws, g)
		wantErrorCode(t, readResponse(t, ws), api.CodeInvalidRequest)
	}
	ctx := context.Background()
	if err := ws.Write(ctx, websocket.MessageBinary, []byte{0xff, 0x00}); err != nil {
		t.Fatal(err)
	}
	wantErrorCode(t, readResponse(t, ws), api.CodeInvalidRequest)
	send(t, ws, `{"type":"req","id":"h","method":"health"}`)
	if res := readResponse(t, ws); res.ID != "h" || !*res.OK {
		t.Fatalf("health after garbage = %+v", res)
	}
}

func TestOversizedFrame(t *testing.T) {
	e := startEnv(t, false)
	ws := e.rawConnected(t)
	big := `{"type":"req","id":"big","method":"health","params":{"pad":"` + strings.Repeat("x", api.MaxFrameBytes) + `"}}`
	send(t, ws, big)
	wantErrorCode(t, readResponse(t, ws), api.CodeTooLarge)
	send(t, ws, `{"type":"req","id":"h","method":"health"}`)
	if res := readResponse(t, ws); res.ID != "h" || !*res.OK {
		t.Fatalf("health after oversized frame = %+v", res)
	}
}

func TestUnknownMethodAndBadParams(t *testing.T) {
	e := startEnv(t, true)
	c := e.dial(t)
	ctx := context.Background()
	if err := c.Call(ctx, "no.such.method", nil, nil); !api.IsCode(err, api.CodeUnknownMethod) {
		t.Fatalf("unknown method: %v", err)
	}
	bad := []struct {
		name   string
		method string
		params any
		code   string
	}{
		{"unknown field", api.MethodChatSend, map[string]any{"message": "hi", "idempotencyKey": "k", "bogus": 1}, api.CodeInvalidRequest},
		{"empty message", api.MethodChatSend, api.ChatSendParams{Message: "  ", IdempotencyKey: "k"}, api.CodeInvalidRequest},
		{"no idempotency key", api.MethodChatSend, api.ChatSendParams{Message: "hi"}, api.CodeInvalidRequest},
		{"bad session key", api.MethodChatSend, api.ChatSendParams{SessionKey: "nonsense", Message: "hi", IdempotencyKey: "k"}, api.CodeInvalidRequest},
		{"unknown agent", api.MethodChatSend, api.ChatSendParams{SessionKey: "agent:ffffffff:main", Message: "hi", IdempotencyKey: "k"}, api.CodeNotFound},
		{"wrong type", api.MethodChatSend, map[string]any{"message": 5}, api.CodeInvalidRequest},
		{"history limit", api.MethodChatHistory, api.ChatHistoryParams{Limit: -1}, api.CodeInvalidRequest},
		{"resolve bad decision", api.MethodApprovalsResolve, api.ApprovalsResolveParams{ID: "x", Decision: "maybe"}, api.CodeInvalidRequest},
		{"resolve unknown id", api.MethodApprovalsResolve, api.ApprovalsResolveParams{ID: "ap_nope", Decision: "deny"}, api.CodeNotFound},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.Call(ctx, tt.method, tt.params, nil); !api.IsCode(err, tt.code) {
				t.Fatalf("got %v, want %s", err, tt.code)
			}
		})
	}
	if _, err := c.Health(ctx); err != nil {
		t.Fatalf("connection broken after bad params: %v", err)
	}
}

func TestNoModelConfigured(t *testing.T) {
	e := startEnv(t, false)
	c := e.dial(t)
	_, err := c.ChatSend(context.Background(), api.ChatSendParams{Message: "hello", IdempotencyKey: "k"})
	if !api.IsCode(err, api.CodeNoModel) || !strings.Contains(err.Error(), "genos setup") {
		t.Fatalf("chat without a model should explain how to configure one, got %v", err)
	}
	ml, err := c.ModelsList(context.Background())
	if err != nil || ml.Error == "" {
		t.Fatalf("models.list without a model = %+v, %v", ml, err)
	}
}

func TestCheckBind(t *testing.T) {
	for _, tt := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:1", "", true},
		{"[::1]:1", "", true},
		{"localhost:1", "", true},
		{"0.0.0.0:1", "", false},
		{"192.0.2.10:1", "", false},
		{"0.0.0.0:1", "tok", true},
	} {
		if err := gateway.CheckBind(tt.addr, tt.token); (err == nil) != tt.ok {
			t.Errorf("CheckBind(%q, %q) = %v, want ok=%v", tt.addr, tt.token, err, tt.ok)
		}
	}
}

func TestTokenFile(t *testing.T) {
	path := t.TempDir() + "/gateway.token"
	a, err := gateway.LoadOrCreateToken(path)
	if err != nil || len(a) != 48 {
		t.Fatalf("token %q, %v", a, err)
	}
	b, err := gateway.LoadOrCreateToken(path)
	if err != nil || a != b {
		t.Fatalf("token changed across loads: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.ReadToken(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable token must be refused with advice, got %v", err)
	}
}

// A page whose DNS name resolves to 127.0.0.1 must not reach the gateway.
func TestDNSRebindingHostRefused(t *testing.T) {
	e := startEnv(t, false)
	req, err := http.NewRequest("GET", "http://"+e.d.Addr()+"/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "evil.example:18789"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign Host got %d, want 403", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err = websocket.Dial(ctx, e.url, &websocket.DialOptions{Host: "evil.example:18789",
		HTTPHeader: http.Header{"Origin": []string{"http://evil.example:18789"}}})
	if err == nil {
		t.Fatal("WebSocket with a foreign Host and matching Origin was accepted")
	}
	for _, host := range []string{"localhost", "127.0.0.1", "[::1]"} {
		req.Host = host + ":18789"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Host %s got %d", host, resp.StatusCode)
		}
	}
}
