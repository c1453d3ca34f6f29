package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/toon"
)

func summaryReply(fact string) modeltest.Reply {
	b, _ := json.Marshal(map[string][]string{
		"facts_and_decisions": {fact}, "current_state": {}, "constraints": {},
		"open_questions": {}, "preferences": {}, "next_steps": {},
	})
	return modeltest.Reply{Text: string(b)}
}

// chatTurns sends n messages on the main session, each answered by echo.
func chatTurns(t *testing.T, e *env, c *api.Client, events <-chan api.Frame, n int) {
	t.Helper()
	for i := range n {
		// Long answers, as real ones are, so a summary is shorter.
		e.model.Enqueue(modeltest.Reply{Text: fmt.Sprintf("answer %d: ", i) + strings.Repeat("some detailed explanation ", 60)})
		res, err := c.ChatSend(context.Background(), api.ChatSendParams{Message: fmt.Sprintf("question %d", i), IdempotencyKey: fmt.Sprintf("q%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if evs := waitRun(t, events, res.RunID); evs[len(evs)-1].State != api.ChatFinal {
			t.Fatalf("turn %d: %+v", i, evs)
		}
	}
}

// TestSessionsCompact: the RPC runs the memory flush and the summary,
// appends a compaction record, and keeps every record for chat.history.
func TestSessionsCompact(t *testing.T) {
	e := startEnv(t, true)
	c := e.dial(t)
	events, stop := c.Subscribe(1024)
	defer stop()
	ctx := context.Background()
	chatTurns(t, e, c, events, 6)

	e.model.Enqueue(modeltest.Reply{Text: "Nothing durable to store."}, summaryReply("The user asked six questions"))
	res, err := c.SessionsCompact(ctx, api.SessionsCompactParams{SessionKey: e.mainKey()})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Compacted || res.Records == 0 || res.TokensAfter >= res.TokensBefore {
		t.Fatalf("compact = %+v", res)
	}
	h, err := c.ChatHistory(ctx, api.ChatHistoryParams{SessionKey: e.mainKey(), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var users, compactions int
	var summary string
	for _, r := range h.Records {
		switch {
		case r.Kind == chat.RecordCompaction:
			compactions++
			summary = r.Content
		case r.Kind == "" && r.Role == chat.RoleUser:
			users++
		}
	}
	if users != 6 || compactions != 1 {
		t.Fatalf("history has %d user records and %d compactions: %+v", users, compactions, h.Records)
	}
	v, err := toon.Unmarshal([]byte(summary), toon.DefaultDecodeOptions())
	if err != nil {
		t.Fatalf("the summary is not TOON: %v\n%s", err, summary)
	}
	if js, _ := toon.ToJSON(v); !strings.Contains(string(js), "The user asked six questions") {
		t.Errorf("summary = %s", js)
	}

	// The next turn sends the summary and only the kept turns.
	e.model.Enqueue(modeltest.Reply{Text: "ok"})
	r, err := c.ChatSend(ctx, api.ChatSendParams{Message: "and now?", IdempotencyKey: "after"})
	if err != nil {
		t.Fatal(err)
	}
	waitRun(t, events, r.RunID)
	reqs := e.model.Requests()
	last := reqs[len(reqs)-1]
	if !strings.Contains(last.Messages[0].Content, "The user asked six questions") {
		t.Errorf("first message is not the summary: %+v", last.Messages[0])
	}
	for _, m := range last.Messages {
		if m.Content == "question 0" {
			t.Errorf("a compacted turn was sent again: %+v", last.Messages)
		}
	}
}

// TestCompactCommand: "/compact" typed into the chat compacts instead of
// starting a turn, and says so; with nothing to compact it says that.
func TestCompactCommand(t *testing.T) {
	e := startEnv(t, true)
	c := e.dial(t)
	events, stop := c.Subscribe(1024)
	defer stop()
	ctx := context.Background()

	res, err := c.ChatSend(ctx, api.ChatSendParams{Message: "/compact", IdempotencyKey: "c0"})
	if err != nil {
		t.Fatal(err)
	}
	evs := waitRun(t, events, res.RunID)
	if last := evs[len(evs)-1]; last.State != api.ChatFinal || !strings.Contains(strings.ToLower(finalText(evs)), "nothing") {
		t.Fatalf("/compact on an empty session: %+v", evs)
	}
	if n := len(e.model.Requests()); n != 0 {
		t.Fatalf("/compact on an empty session made %d model requests", n)
	}

	chatTurns(t, e, c, events, 6)
	e.model.Enqueue(modeltest.Reply{Text: "Nothing to store."}, summaryReply("Six questions so far"))
	res, err = c.ChatSend(ctx, api.ChatSendParams{Message: " /COMPACT ", IdempotencyKey: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	evs = waitRun(t, events, res.RunID)
	last := evs[len(evs)-1]
	if last.State != api.ChatFinal || !strings.Contains(finalText(evs), "Compacted") || last.Message.Compaction == nil {
		t.Fatalf("/compact: %+v", evs)
	}
	h, err := c.ChatHistory(ctx, api.ChatHistoryParams{SessionKey: e.mainKey(), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range h.Records {
		if strings.Contains(strings.ToLower(r.Content), "/compact") {
			t.Errorf("the command itself was recorded as a message: %+v", r)
		}
	}
}
