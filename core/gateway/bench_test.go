package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/genos-project/genos/core/api"
)

// BenchmarkChatRoundTrip measures one chat.send → final event through the
// WebSocket with the zero-latency loopback model, on a fresh session every
// 20 turns (as the bench/ harness does).
func BenchmarkChatRoundTrip(b *testing.B) {
	e := startEnv(b, true)
	c := e.dial(b)
	events, stop := c.Subscribe(1 << 16)
	defer stop()
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key := fmt.Sprintf("agent:%s:bench:direct:s%d", e.agent, i/20)
		res, err := c.ChatSend(ctx, api.ChatSendParams{SessionKey: key, Message: "hello there", IdempotencyKey: fmt.Sprint(i)})
		if err != nil {
			b.Fatal(err)
		}
		for f := range events {
			if f.Event != api.EventChat {
				continue
			}
			var ev api.ChatEvent
			json.Unmarshal(f.Payload, &ev)
			if ev.RunID == res.RunID && ev.State != api.ChatDelta {
				break
			}
		}
	}
}
