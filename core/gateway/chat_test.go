package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/gateway"
	"github.com/genos-project/genos/core/model/modeltest"
)

func TestChatStreamsAndRecords(t *testing.T) {
	e := startEnv(t, true)
	e.model.Enqueue(modeltest.Reply{Chunks: []string{"Hel", "lo ", "there"}})
	c := e.dial(t)
	events, stop := c.Subscribe(1024)
	defer stop()
	ctx := context.Background()
	res, err := c.ChatSend(ctx, api.ChatSendParams{Message: "hi", IdempotencyKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	evs := waitRun(t, events, res.RunID)
	last := evs[len(evs)-1]
	if last.State != api.ChatFinal || finalText(evs) != "Hello there" || deltas(evs) != "Hello there" {
		t.Fatalf("events = %+v", evs)
	}
	if last.Usage == nil || last.Usage.OutputTokens == 0 {
		t.Errorf("final event carries no usage: %+v", last.Usage)
	}
	for i, ev := range evs {
		if ev.Seq != i+1 || ev.SessionKey != e.mainKey() {
			t.Errorf("event %d has seq %d key %q", i, ev.Seq, ev.SessionKey)
		}
	}
	h, err := c.ChatHistory(ctx, api.ChatHistoryParams{SessionKey: e.mainKey()})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Records) != 2 || h.Records[0].Role != chat.RoleUser || h.Records[0].Content != "hi" ||
		h.Records[1].Role != chat.RoleAssistant || h.Records[1].Content != "Hello there" {
		t.Fatalf("history = %+v", h.Records)
	}
	if p := h.Records[0].Provenance; p == nil || p.Kind != chat.ExternalUser {
		t.Errorf("user record lacks provenance: %+v", p)
	}
	sl, err := c.SessionsList(ctx, api.SessionsListParams{})
	if err != nil || len(sl.Sessions) != 1 || sl.Sessions[0].Key != e.mainKey() {
		t.Fatalf("sessions.list = %+v, %v", sl, err)
	}
}

func TestIdempotencyKeyReturnsFirstRun(t *testing.T) {
	e := startEnv(t, true)
	c := e.dial(t)
	events, stop := c.Subscribe(1024)
	defer stop()
	ctx := context.Background()
	a, err := c.ChatSend(ctx, api.ChatSendParams{Message: "once", IdempotencyKey: "same"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.ChatSend(ctx, api.ChatSendParams{Message: "once", IdempotencyKey: "same"})
	if err != nil || a.RunID != b.RunID {
		t.Fatalf("repeat returned %q (%v), want %q", b.RunID, err, a.RunID)
	}
	waitRun(t, events, a.RunID)
	h, _ := c.ChatHistory(ctx, api.ChatHistoryParams{})
	if len(h.Records) != 2 {
		t.Fatalf("a repeated send must not run twice: %d records", len(h.Records))
	}
}

// Runs on one session are serialized: the transcript alternates user and
// assistant records, each reply answering its own message.
func TestConcurrentSendsOnOneSessionAreSerialized(t *testing.T) {
	e := startEnv(t, true)
	e.model.SetDefault(func(r modeltest.RecordedRequest) modeltest.Reply {
		last := r.Messages[len(r.Messages)-1].Content
		return modeltest.Reply{Chunks: []string{"echo: ", last}, ChunkDelay: 10 * time.Millisecond}
	})
	c := e.dial(t)
	events, stop := c.Subscribe(4096)
	defer stop()
	ctx := context.Background()
	const n = 5
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.ChatSend(ctx, api.ChatSendParams{Message: fmt.Sprintf("m%d", i), IdempotencyKey: fmt.Sprintf("k%d", i)})
			if err != nil {
				t.Error(err)
			}
			ids[i] = res.RunID
		}()
	}
	wg.Wait()
	finals := collectFinals(t, events, n)
	for _, id := range ids {
		if finals[id].State != api.ChatFinal {
			t.Errorf("run %s ended %q", id, finals[id].State)
		}
	}
	h, err := c.ChatHistory(ctx, api.ChatHistoryParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Records) != 2*n {
		t.Fatalf("want %d records, got %d", 2*n, len(h.Records))
	}
	for i := 0; i < len(h.Records); i += 2 {
		u, a := h.Records[i], h.Records[i+1]
		if u.Role != chat.RoleUser || a.Role != chat.RoleAssistant || a.Content != "echo: "+u.Content || u.RunID != a.RunID {
			t.Fatalf("records %d,%d interleaved: %+v / %+v", i, i+1, u, a)
		}
	}
}

func collectFinals(t *testing.T, events <-chan api.Frame, n int) map[string]api.ChatEvent {
	t.Helper()
	out := map[string]api.ChatEvent{}
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case f := <-events:
			if f.Event != api.EventChat {
				continue
			}
			var ev api.ChatEvent
			json.Unmarshal(f.Payload, &ev)
			if ev.State != api.ChatDelta {
				out[ev.RunID] = ev
			}
		case <-timeout:
			t.Fatalf("only %d of %d runs finished", len(out), n)
		}
	}
	return out
}

// Runs on different sessions proceed at the same time: two runs whose model
// replies hang are both active at once.
func TestSendsAcrossSessionsRunInParallel(t *testing.T) {
	e := startEnv(t, true)
	e.model.Enqueue(modeltest.Reply{Hang: true}, modeltest.Reply{Hang: true})
	c := e.dial(t)
	events, stop := c.Subscribe(1024)
	defer stop()
	ctx := context.Background()
	keys := []string{"agent:" + e.agent + ":test:direct:alice", "agent:" + e.agent + ":test:direct:bob"}
	var ids []string
	for i, k := range keys {
		res, err := c.ChatSend(ctx, api.ChatSendParams{SessionKey: k, Message: "wait", IdempotencyKey: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.RunID)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Both model calls in flight at once proves the runs overlap.
		if st.ActiveRuns == 2 && len(e.model.Requests()) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs on two sessions never ran together (active=%d)", st.ActiveRuns)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, k := range keys {
		res, err := c.ChatAbort(ctx, api.ChatAbortParams{SessionKey: k})
		if err != nil || !res.Aborted || res.RunID != ids[i] {
			t.Fatalf("abort %s = %+v, %v", k, res, err)
		}
	}
	finals := collectFinals(t, events, 2)
	for _, id := range ids {
		if finals[id].State != api.ChatAborted {
			t.Errorf("run %s ended %q, want aborted", id, finals[id].State)
		}
	}
	h, err := c.ChatHistory(ctx, api.ChatHistoryParams{SessionKey: keys[0]})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(h.Records); n != 2 || h.Records[1].Kind != "aborted" {
		t.Fatalf("aborted run should leave user + aborted records, got %+v", h.Records)
	}
}

// The full approval path in process: exec asks, the client approves, the
// tool runs, and the decision is recorded.
func TestExecNeedsApproval(t *testing.T) {
	for _, tt := range []struct {
		decision string
		ran      bool
	}{{api.DecisionAllowOnce, true}, {api.DecisionDeny, false}} {
		t.Run(tt.decision, func(t *testing.T) {
			e := startEnv(t, true)
			args, _ := json.Marshal(map[string]string{"command": "echo approved-output"})
			e.model.Enqueue(
				modeltest.Reply{ToolCalls: []chat.ToolCall{{ID: "call_1", Name: "exec", Arguments: args}}},
				modeltest.Reply{Text: "finished"},
			)
			c := e.dial(t)
			events, stop := c.Subscribe(1024)
			defer stop()
			ctx := context.Background()
			res, err := c.ChatSend(ctx, api.ChatSendParams{Message: "run it", IdempotencyKey: "k"})
			if err != nil {
				t.Fatal(err)
			}
			var ap api.Approval
			for f := range events {
				if f.Event == api.EventApprovalRequested {
					json.Unmarshal(f.Payload, &ap)
					break
				}
			}
			if ap.Tool != "exec" || ap.RunID != res.RunID || !strings.Contains(string(ap.Args), "approved-output") {
				t.Fatalf("approval = %+v", ap)
			}
			list, err := c.ApprovalsList(ctx)
			if err != nil || len(list.Approvals) != 1 || list.Approvals[0].ID != ap.ID {
				t.Fatalf("approvals.list = %+v, %v", list, err)
			}
			if _, err := c.ApprovalsResolve(ctx, api.ApprovalsResolveParams{ID: ap.ID, Decision: tt.decision}); err != nil {
				t.Fatal(err)
			}
			evs := waitRun(t, events, res.RunID)
			if finalText(evs) != "finished" {
				t.Fatalf("final = %+v", evs[len(evs)-1])
			}
			h, _ := c.ChatHistory(ctx, api.ChatHistoryParams{})
			if len(h.Records) != 4 {
				t.Fatalf("want user, assistant(tool call), tool, assistant; got %+v", h.Records)
			}
			tool := h.Records[2]
			if tool.Approval == nil || tool.Approval.Decision != tt.decision {
				t.Fatalf("decision not recorded: %+v", tool.Approval)
			}
			if got := strings.Contains(tool.Content, "approved-output"); got != tt.ran {
				t.Fatalf("tool content %q: ran=%v, want %v", tool.Content, got, tt.ran)
			}
			// The model saw the tool result on its second call.
			reqs := e.model.Requests()
			lastMsg := reqs[len(reqs)-1].Messages[len(reqs[len(reqs)-1].Messages)-1]
			if lastMsg.Role != chat.RoleTool || lastMsg.ToolCallID != "call_1" {
				t.Fatalf("second model call did not carry the tool result: %+v", lastMsg)
			}
		})
	}
}

// A connection with scope "own" gets chat events only for sessions it used;
// a default connection sees everything.
func TestScopeOwnFiltersEvents(t *testing.T) {
	e := startEnv(t, true)
	ctx := context.Background()
	dial := func(scope string) *api.Client {
		c, err := api.Dial(ctx, api.DialOptions{URL: e.url, Token: e.d.Token(), Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	own, all := dial(api.ScopeOwn), dial("")
	ownEvents, stop1 := own.Subscribe(1024)
	defer stop1()
	allEvents, stop2 := all.Subscribe(1024)
	defer stop2()
	mine, err := own.ChatSend(ctx, api.ChatSendParams{SessionKey: "agent:" + e.agent + ":test:direct:me", Message: "a", IdempotencyKey: "1"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := all.ChatSend(ctx, api.ChatSendParams{SessionKey: "agent:" + e.agent + ":test:direct:you", Message: "b", IdempotencyKey: "2"})
	if err != nil {
		t.Fatal(err)
	}
	collectFinals(t, allEvents, 2) // the default scope sees both runs
	waitRun(t, ownEvents, mine.RunID)
	// The other run's events were queued to every connection before the
	// default client saw its final; one more round trip on the scoped
	// connection flushes anything queued before it, in order.
	if _, err := own.Health(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case f := <-ownEvents:
			var ev api.ChatEvent
			if f.Event == api.EventChat && json.Unmarshal(f.Payload, &ev) == nil && ev.RunID == other.RunID {
				t.Fatalf("scope own received another session's event: %+v", ev)
			}
			continue
		default:
		}
		break
	}
	if _, err := api.Dial(ctx, api.DialOptions{URL: e.url, Token: e.d.Token(), Scope: "bogus"}); !api.IsCode(err, api.CodeInvalidRequest) {
		t.Fatalf("bad scope accepted: %v", err)
	}
}

func TestTrimHistoryToBudget(t *testing.T) {
	recs := make([]chat.Record, 10)
	for i := range recs {
		recs[i] = chat.Record{ID: fmt.Sprint(i), Content: strings.Repeat("x", 1000)}
	}
	got := gateway.TrimToBudget(recs, 3*1256)
	if len(got) != 3 || got[0].ID != "7" {
		t.Fatalf("kept %d records starting at %q, want the newest 3", len(got), got[0].ID)
	}
	if got := gateway.TrimToBudget(recs[:1], 10); len(got) != 1 {
		t.Fatal("a single oversized record must still be returned")
	}
}
