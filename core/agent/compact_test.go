package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/session"
	"github.com/genos-project/genos/core/tools"
	"github.com/genos-project/genos/core/toon"
)

// memoryTool is a test memory_write that records what it was given.
type memoryTool struct {
	mu    sync.Mutex
	texts []string
}

func (m *memoryTool) tool() tools.Tool {
	return tools.Tool{
		Name:        "memory_write",
		Description: "Save a durable fact to long-term memory.",
		Schema:      json.RawMessage(`{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}`),
		Category:    tools.CategoryMemory,
		Run: func(_ context.Context, _ tools.Env, args json.RawMessage) (tools.Result, error) {
			var a struct{ Text string }
			if err := json.Unmarshal(args, &a); err != nil {
				return tools.Result{Content: "bad arguments", IsError: true}, nil
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			m.texts = append(m.texts, a.Text)
			return tools.Result{Content: "saved"}, nil
		},
	}
}

func (m *memoryTool) saved() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.texts...)
}

// newCompactFixture is newFixture with memory_write registered (when mem is
// not nil) next to the built-in tools.
func newCompactFixture(t *testing.T, mem *memoryTool) *fixture {
	t.Helper()
	f := newFixture(t, policy.DefaultRules(), nil)
	ts := tools.Builtins(tools.BuiltinOptions{})
	if mem != nil {
		ts = append(ts, mem.tool())
	}
	reg, err := tools.NewRegistry(ts...)
	if err != nil {
		t.Fatal(err)
	}
	f.runner.Tools = reg
	f.runner.MinCompactTokens = -1 // small test histories still compact
	return f
}

// seed appends n plain turns (u1, a1, ... un, an) with some bulk, so a
// summary is much shorter than what it replaces.
func seed(t *testing.T, f *fixture, from, n int) {
	t.Helper()
	var recs []chat.Record
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := from; i < from+n; i++ {
		bulk := strings.Repeat(fmt.Sprintf("detail %d of the plan ", i), 30)
		recs = append(recs,
			chat.Record{ID: fmt.Sprintf("u%d", i), Role: chat.RoleUser, Content: fmt.Sprintf("question %d: %s", i, bulk), Time: at},
			chat.Record{ID: fmt.Sprintf("a%d", i), Role: chat.RoleAssistant, Content: fmt.Sprintf("answer %d: %s", i, bulk), Time: at})
	}
	if err := f.sess.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
}

func summaryJSON(facts ...string) string {
	if facts == nil {
		facts = []string{}
	}
	b, _ := json.Marshal(map[string]any{
		"facts_and_decisions": facts,
		"current_state":       []string{"planning the trip"},
		"constraints":         []string{"budget: 2,000 EUR"},
		"open_questions":      []string{},
		"preferences":         []string{"prefers trains"},
		"next_steps":          []string{"book tickets by Friday"},
	})
	return string(b)
}

func (f *fixture) compact(t *testing.T, emit func(Event)) (CompactResult, error) {
	t.Helper()
	return f.runner.Compact(context.Background(), CompactRun{
		ID: "run_compact", SessionKey: f.sess.Key.String(), Transcript: f.sess,
		Provider: f.prov, Model: "m", Trigger: TriggerManual, Emit: emit,
	})
}

// projection is the part of a model message the tests compare.
type projection struct {
	Role    chat.Role
	Content string
	Calls   int
	CallID  string
}

func project(msgs []chat.Message) []projection {
	var out []projection
	for _, m := range msgs {
		out = append(out, projection{m.Role, m.Content, len(m.ToolCalls), m.ToolCallID})
	}
	return out
}

func isSummaryRequest(r modeltest.RecordedRequest) bool { return r.System == summarySystem }

func TestCompactFlushesThenSummarises(t *testing.T) {
	mem := &memoryTool{}
	f := newCompactFixture(t, mem)
	f.runner.KeepTurns = 2
	seed(t, f, 1, 6)
	before := f.records(t)
	f.srv.Enqueue(
		modeltest.Reply{ToolCalls: []chat.ToolCall{
			toolCall("memory_write", map[string]string{"text": "The user's name is Ada."}),
			// Not offered in the flush turn: refused without running.
			toolCall("write", map[string]string{"path": "x.md", "content": "no"}),
		}},
		modeltest.Reply{Text: "NO_REPLY"},
		modeltest.Reply{Text: "```json\n" + summaryJSON("Ada chose Lisbon") + "\n```"},
	)
	var events []Event
	res, err := f.compact(t, func(e Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	if !res.Compacted || res.FlushRecords != 5 {
		t.Fatalf("result = %+v", res)
	}
	if diff := cmp.Diff([]string{"The user's name is Ada."}, mem.saved()); diff != "" {
		t.Fatalf("memory_write calls (-want +got):\n%s", diff)
	}
	if fileExists(filepath.Join(f.ws, "x.md")) {
		t.Fatal("a tool not offered in the flush turn ran")
	}

	reqs := f.srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("model called %d times, want 3", len(reqs))
	}
	// The flush sees the whole context, is offered only memory_write and
	// comes before the summary.
	flush := reqs[0]
	if diff := cmp.Diff([]string{"memory_write"}, flush.Tools); diff != "" {
		t.Errorf("flush tools (-want +got):\n%s", diff)
	}
	last := flush.Messages[len(flush.Messages)-1]
	if len(flush.Messages) != 13 || !strings.Contains(last.Content, "memory_write") || isSummaryRequest(flush) {
		t.Errorf("flush request messages = %d, last = %q", len(flush.Messages), last.Content)
	}
	sum := reqs[2]
	if !isSummaryRequest(sum) || len(sum.Tools) != 0 {
		t.Fatalf("third request is not the summary: %+v", sum.System)
	}
	prompt := sum.Messages[0].Content
	for _, want := range []string{"question 1:", "answer 4:"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("summary prompt lacks %q", want)
		}
	}
	for _, kept := range []string{"question 5:", "answer 6:", "memory_write"} {
		if strings.Contains(prompt, kept) {
			t.Errorf("summary prompt holds %q, which is kept or silent", kept)
		}
	}

	recs := f.records(t)
	// Every earlier record is still there, untouched.
	if diff := cmp.Diff(before, recs[:len(before)]); diff != "" {
		t.Fatalf("existing records changed (-want +got):\n%s", diff)
	}
	added := recs[len(before):]
	if len(added) != 6 {
		t.Fatalf("added %d records, want 5 flush + 1 compaction: %+v", len(added), added)
	}
	for _, r := range added[:5] {
		if r.Kind != chat.RecordMemoryFlush || r.RunID != "run_compact" {
			t.Errorf("flush record = %+v", r)
		}
	}
	comp := added[5]
	if comp.Kind != chat.RecordCompaction || comp.Role != chat.RoleSystem || comp.Compaction == nil {
		t.Fatalf("compaction record = %+v", comp)
	}
	c := *comp.Compaction
	if c.Through != "a4" || c.Records != 8 || c.Trigger != TriggerManual || c.TokensAfter >= c.TokensBefore || c.TokensAfter <= 0 {
		t.Errorf("compaction = %+v", c)
	}
	// The content is TOON with the six sections in order.
	v, err := toon.Unmarshal([]byte(comp.Content), toon.DefaultDecodeOptions())
	if err != nil {
		t.Fatalf("content is not TOON: %v\n%s", err, comp.Content)
	}
	var keys []string
	for _, m := range v.(toon.Object) {
		keys = append(keys, m.Key)
	}
	if diff := cmp.Diff(SummarySections, keys); diff != "" {
		t.Errorf("sections (-want +got):\n%s", diff)
	}
	got, err := DecodeSummary(comp.Content)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		FactsAndDecisions: []string{"Ada chose Lisbon"},
		CurrentState:      []string{"planning the trip"},
		Constraints:       []string{"budget: 2,000 EUR"},
		OpenQuestions:     []string{},
		Preferences:       []string{"prefers trains"},
		NextSteps:         []string{"book tickets by Friday"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	// Silent: only the compaction is reported, no deltas or tool events.
	if len(events) != 1 || events[0].Kind != EventCompacted || events[0].Record.ID != comp.ID || events[0].Text == "" {
		t.Errorf("events = %+v", events)
	}
	// History pages through everything, the compaction record included.
	page, more, err := f.sess.Page("", 100)
	if err != nil || more || len(page) != len(recs) || page[len(page)-1].ID != comp.ID {
		t.Errorf("page = %d records, more %v, err %v", len(page), more, err)
	}
}

func TestRunAfterCompactionSeesSummaryAndKeptTurns(t *testing.T) {
	f := newCompactFixture(t, nil)
	f.runner.KeepTurns = 2
	seed(t, f, 1, 5)
	f.srv.Enqueue(modeltest.Reply{Text: summaryJSON("fact one")})
	res, err := f.compact(t, nil)
	if err != nil || !res.Compacted {
		t.Fatalf("compact: %+v, %v", res, err)
	}
	if n := len(f.srv.Requests()); n != 1 {
		t.Fatalf("without memory_write there is no flush turn; got %d requests", n)
	}
	if _, err := f.run(context.Background(), "what next?", nil); err != nil {
		t.Fatal(err)
	}
	reqs := f.srv.Requests()
	got := project(reqs[len(reqs)-1].Messages)
	recs := f.records(t)
	byID := map[string]chat.Record{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	want := []projection{{Role: chat.RoleUser, Content: summaryLabel + res.Record.Content}}
	for _, id := range []string{"u4", "a4", "u5", "a5"} {
		want = append(want, projection{Role: byID[id].Role, Content: byID[id].Content})
	}
	want = append(want, projection{Role: chat.RoleUser, Content: "what next?"})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("request after compaction (-want +got):\n%s", diff)
	}
}

func TestCompactNeverSplitsToolPairs(t *testing.T) {
	f := newCompactFixture(t, nil)
	f.runner.KeepTurns = 2
	call := func(id string) []chat.ToolCall {
		return []chat.ToolCall{{ID: id, Name: "ls", Arguments: json.RawMessage(`{}`)}}
	}
	// A user message arrived between a tool call and its result; the naive
	// cut (at the second-to-last user message, u3) would strand r1.
	hist := []chat.Record{
		{ID: "u1", Role: chat.RoleUser, Content: "list files"},
		{ID: "c0", Role: chat.RoleAssistant, ToolCalls: call("call_0")},
		{ID: "r0", Role: chat.RoleTool, ToolCallID: "call_0", ToolName: "ls", Content: "a.md"},
		{ID: "a1", Role: chat.RoleAssistant, Content: "one file"},
		{ID: "u2", Role: chat.RoleUser, Content: "and now?"},
		{ID: "c1", Role: chat.RoleAssistant, ToolCalls: call("call_1")},
		{ID: "u3", Role: chat.RoleUser, Content: "hurry up"},
		{ID: "r1", Role: chat.RoleTool, ToolCallID: "call_1", ToolName: "ls", Content: "a.md b.md"},
		{ID: "a2", Role: chat.RoleAssistant, Content: "two files"},
		{ID: "u4", Role: chat.RoleUser, Content: "thanks"},
		{ID: "a4", Role: chat.RoleAssistant, Content: "welcome"},
	}
	if err := f.sess.Append(context.Background(), hist...); err != nil {
		t.Fatal(err)
	}
	f.srv.Enqueue(modeltest.Reply{Text: summaryJSON()})
	res, err := f.compact(t, nil)
	if err != nil || !res.Compacted {
		t.Fatalf("compact: %+v, %v", res, err)
	}
	if res.Record.Compaction.Through != "a1" {
		t.Fatalf("through = %q, want a1 (the cut moves before u2)", res.Record.Compaction.Through)
	}
	prompt := f.srv.Requests()[0].Messages[0].Content
	if !strings.Contains(prompt, "Tool ls returned: a.md") || strings.Contains(prompt, "b.md") {
		t.Errorf("summary prompt:\n%s", prompt)
	}
	// What the model sees next keeps call_1 with its result.
	msgs := contextMessages(f.records(t))
	var seenCall bool
	for _, m := range msgs {
		for _, c := range m.ToolCalls {
			seenCall = seenCall || c.ID == "call_1"
		}
		if m.Role == chat.RoleTool && m.ToolCallID == "call_1" && !seenCall {
			t.Fatal("result before its call")
		}
	}
	if !seenCall {
		t.Fatalf("call_1 was compacted away: %+v", msgs)
	}
}

func TestSecondCompactionIncludesFirst(t *testing.T) {
	f := newCompactFixture(t, nil)
	f.runner.KeepTurns = 2
	seed(t, f, 1, 4)
	f.srv.Enqueue(modeltest.Reply{Text: summaryJSON("Ada's cat is called Miso")})
	first, err := f.compact(t, nil)
	if err != nil || !first.Compacted {
		t.Fatalf("first compact: %+v, %v", first, err)
	}
	seed(t, f, 5, 3)
	f.srv.Enqueue(modeltest.Reply{Text: summaryJSON("Ada's cat is called Miso", "Ada moved to Porto")})
	second, err := f.compact(t, nil)
	if err != nil || !second.Compacted {
		t.Fatalf("second compact: %+v, %v", second, err)
	}
	prompt := f.srv.Requests()[1].Messages[0].Content
	if !strings.Contains(prompt, first.Record.Content) || !strings.Contains(prompt, "Miso") {
		t.Errorf("second summary prompt lacks the first summary:\n%s", prompt)
	}
	// Summarised now: u3..a5 (the first compaction kept u3, u4).
	for _, want := range []string{"question 3:", "answer 5:"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("second summary prompt lacks %q", want)
		}
	}
	if strings.Contains(prompt, "question 1:") || strings.Contains(prompt, "question 6:") {
		t.Error("second summary prompt re-sends summarised or kept turns")
	}
	c := second.Record.Compaction
	if c.Through != "a5" || c.Records != 10 {
		t.Errorf("second compaction = %+v", c)
	}
	summary, _ := session.ContextRecords(f.records(t))
	if summary == nil || summary.ID != second.Record.ID {
		t.Fatalf("latest compaction = %+v", summary)
	}
	if n := len(f.records(t)); n != 16 {
		t.Fatalf("%d records, want 14 turns + 2 compactions", n)
	}
}

func TestCompactBadSummary(t *testing.T) {
	tests := []struct {
		name    string
		replies []string
		wantErr bool
	}{
		{"invalid twice", []string{"Sure! Here is the summary.", `{"facts_and_decisions": []}`}, true},
		{"fixed on retry", []string{`{"facts_and_decisions": "not an array"}`, summaryJSON("ok")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCompactFixture(t, nil)
			f.runner.KeepTurns = 1
			seed(t, f, 1, 3)
			before := f.records(t)
			for _, r := range tt.replies {
				f.srv.Enqueue(modeltest.Reply{Text: r})
			}
			res, err := f.compact(t, nil)
			reqs := f.srv.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2 (one retry)", len(reqs))
			}
			retry := reqs[1].Messages
			if len(retry) != 3 || retry[1].Content != tt.replies[0] || !strings.Contains(retry[2].Content, "not valid") {
				t.Errorf("retry request = %+v", project(retry))
			}
			after := f.records(t)
			if !tt.wantErr {
				if err != nil || !res.Compacted || len(after) != len(before)+1 {
					t.Fatalf("compact: %+v, %v", res, err)
				}
				return
			}
			if !errors.Is(err, ErrBadSummary) || res.Compacted {
				t.Fatalf("compact = %+v, %v; want ErrBadSummary", res, err)
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Fatalf("transcript changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompactNothingOldEnough(t *testing.T) {
	f := newCompactFixture(t, &memoryTool{})
	seed(t, f, 1, 4) // KeepTurns defaults to 4
	res, err := f.compact(t, nil)
	if err != nil || res.Compacted || res.Reason == "" {
		t.Fatalf("compact = %+v, %v", res, err)
	}
	if n := len(f.srv.Requests()); n != 0 {
		t.Fatalf("%d model calls for nothing to compact", n)
	}
	if n := len(f.records(t)); n != 8 {
		t.Fatalf("%d records, want the 8 seeded", n)
	}
}

func TestCompactFlushDeniedByRules(t *testing.T) {
	mem := &memoryTool{}
	f := newCompactFixture(t, mem)
	f.runner.KeepTurns = 1
	seed(t, f, 1, 2)
	rules := policy.DefaultRules()
	rules.Tools = map[string]policy.Mode{"memory_write": policy.ModeDeny}
	f.srv.Enqueue(modeltest.Reply{Text: summaryJSON()})
	res, err := f.runner.Compact(context.Background(), CompactRun{SessionKey: f.sess.Key.String(), Transcript: f.sess,
		Provider: f.prov, Model: "m", Rules: &rules})
	if err != nil || !res.Compacted || res.FlushRecords != 0 || res.Record.Compaction.Trigger != TriggerManual {
		t.Fatalf("compact = %+v, %v", res, err)
	}
	if reqs := f.srv.Requests(); len(reqs) != 1 || !isSummaryRequest(reqs[0]) {
		t.Fatalf("want only the summary request, got %d", len(reqs))
	}
}

func TestCompactValidatesInput(t *testing.T) {
	f := newCompactFixture(t, nil)
	if _, err := f.runner.Compact(context.Background(), CompactRun{Transcript: f.sess}); err == nil {
		t.Error("no provider accepted")
	}
	if _, err := f.runner.Compact(context.Background(), CompactRun{Transcript: f.sess, Provider: f.prov, Trigger: "cron"}); err == nil {
		t.Error("unknown trigger accepted")
	}
}
