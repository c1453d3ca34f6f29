package agent

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model"
	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/session"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/tools"
)

type fixture struct {
	runner *Runner
	srv    *modeltest.Server
	prov   model.Provider
	sess   *session.Session
	ws     string
}

func newFixture(t *testing.T, rules policy.Rules, approver Approver) *fixture {
	t.Helper()
	dir := t.TempDir()
	info, err := LoadOrCreate(dir, "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), filepath.Join(dir, "genos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mgr := session.NewManager(dir, db, session.PlainCodec{})
	t.Cleanup(func() { mgr.Close() })
	sess, err := mgr.Open(context.Background(), session.MainKey(info.ID))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := tools.NewRegistry(tools.Builtins(tools.BuiltinOptions{})...)
	if err != nil {
		t.Fatal(err)
	}
	srv := modeltest.New()
	t.Cleanup(srv.Close)
	prov, err := model.NewOpenAI(model.Options{BaseURL: srv.URL(), MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ws := filepath.Join(dir, info.Workspace)
	return &fixture{
		runner: &Runner{Info: info, Workspace: ws, Tools: reg, Rules: rules, Approvals: approver, MaxRounds: 3},
		srv:    srv, prov: prov, sess: sess, ws: ws,
	}
}

func (f *fixture) run(ctx context.Context, text string, emit func(Event)) (Result, error) {
	return f.runner.Run(ctx, Run{
		ID: "run_test", SessionKey: f.sess.Key.String(), Transcript: f.sess,
		Input: chat.Record{Content: text}, Provider: f.prov, Model: "m", Emit: emit,
	})
}

func (f *fixture) records(t *testing.T) []chat.Record {
	t.Helper()
	recs, err := f.sess.Records()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func toolCall(name string, args any) chat.ToolCall {
	b, _ := json.Marshal(args)
	return chat.ToolCall{Name: name, Arguments: b}
}

func TestRunUsesFileToolsInWorkspace(t *testing.T) {
	f := newFixture(t, policy.DefaultRules(), nil)
	f.srv.Enqueue(
		modeltest.Reply{ToolCalls: []chat.ToolCall{toolCall("write", map[string]string{"path": "notes/a.md", "content": "remember milk"})}},
		modeltest.Reply{ToolCalls: []chat.ToolCall{toolCall("read", map[string]string{"path": "notes/a.md"})}},
		modeltest.Reply{Text: "saved"},
	)
	res, err := f.run(context.Background(), "note this", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Final.Content != "saved" || res.Rounds != 3 {
		t.Fatalf("result = %+v", res)
	}
	recs := f.records(t)
	if len(recs) != 6 || !strings.Contains(recs[4].Content, "remember milk") {
		t.Fatalf("records = %+v", recs)
	}
	if res.Usage.InputTokens == 0 {
		t.Error("usage not accumulated")
	}
}

func TestRunStopsAtMaxRounds(t *testing.T) {
	f := newFixture(t, policy.DefaultRules(), nil)
	f.srv.SetDefault(func(modeltest.RecordedRequest) modeltest.Reply {
		return modeltest.Reply{ToolCalls: []chat.ToolCall{toolCall("ls", map[string]string{})}}
	})
	_, err := f.run(context.Background(), "loop forever", nil)
	if !errors.Is(err, ErrMaxRounds) {
		t.Fatalf("err = %v, want ErrMaxRounds", err)
	}
	recs := f.records(t)
	last := recs[len(recs)-1]
	if last.Kind != "error" || !strings.Contains(last.Content, "3 tool rounds") {
		t.Fatalf("last record = %+v", last)
	}
	if n := len(f.srv.Requests()); n != 3 {
		t.Fatalf("model called %d times, want 3", n)
	}
}

func TestRunAbortMidStreamKeepsPartialText(t *testing.T) {
	f := newFixture(t, policy.DefaultRules(), nil)
	f.srv.Enqueue(modeltest.Reply{Text: "partial answer", Hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := f.run(ctx, "long question", func(e Event) {
		if e.Kind == EventDelta {
			cancel() // the user pressed Stop after the first words arrived
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	recs := f.records(t)
	last := recs[len(recs)-1]
	if last.Kind != "aborted" || !strings.HasPrefix("partial answer", last.Content) || last.Content == "" {
		t.Fatalf("aborted record = %+v", last)
	}
}

func TestRunTimeoutIsRecorded(t *testing.T) {
	f := newFixture(t, policy.DefaultRules(), nil)
	f.runner.RunTimeout = 100 * time.Millisecond
	f.srv.Enqueue(modeltest.Reply{Hang: true})
	_, err := f.run(context.Background(), "slow", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	last := f.records(t)[len(f.records(t))-1]
	if last.Kind != "error" || !strings.Contains(last.Content, "timed out") {
		t.Fatalf("last record = %+v", last)
	}
}

func TestRunRefusesUnknownDeniedAndMalformedCalls(t *testing.T) {
	rules := policy.DefaultRules()
	rules.Categories["exec"] = policy.ModeDeny
	f := newFixture(t, rules, nil)
	f.srv.Enqueue(
		modeltest.Reply{ToolCalls: []chat.ToolCall{
			toolCall("nope", map[string]string{}),
			toolCall("exec", map[string]string{"command": "touch pwned"}),
			{Name: "read", Arguments: json.RawMessage(`{not json`)},
		}},
		modeltest.Reply{Text: "ok"},
	)
	if _, err := f.run(context.Background(), "try things", nil); err != nil {
		t.Fatal(err)
	}
	first := f.srv.Requests()[0]
	for _, name := range first.Tools {
		if name == "exec" {
			t.Fatal("a denied tool must not be offered to the model")
		}
	}
	recs := f.records(t)
	// The provider passes broken argument JSON on in a form the tool rejects.
	wants := []string{"no tool named", "not allowed", "invalid arguments"}
	for i, want := range wants {
		r := recs[2+i]
		if r.Role != chat.RoleTool || !r.IsError || !strings.Contains(r.Content, want) {
			t.Errorf("tool record %d = %+v, want error containing %q", i, r, want)
		}
	}
	if fileExists(filepath.Join(f.ws, "pwned")) {
		t.Fatal("denied exec ran")
	}
}

type fixedApprover struct {
	decision policy.Decision
	asked    []policy.Request
}

func (a *fixedApprover) Request(_ context.Context, r policy.Request) (policy.Decision, error) {
	a.asked = append(a.asked, r)
	return a.decision, nil
}

func TestRunApprovalTimeoutMeansDeny(t *testing.T) {
	ap := &fixedApprover{decision: policy.DecisionTimeout}
	f := newFixture(t, policy.DefaultRules(), ap)
	f.srv.Enqueue(
		modeltest.Reply{ToolCalls: []chat.ToolCall{toolCall("exec", map[string]string{"command": "echo hi"})}},
		modeltest.Reply{Text: "nobody answered"},
	)
	if _, err := f.run(context.Background(), "run", nil); err != nil {
		t.Fatal(err)
	}
	if len(ap.asked) != 1 || ap.asked[0].Tool != "exec" || ap.asked[0].SessionKey != f.sess.Key.String() || ap.asked[0].AgentID != f.runner.Info.ID {
		t.Fatalf("approval requests = %+v", ap.asked)
	}
	tool := f.records(t)[2]
	if tool.Approval == nil || tool.Approval.Decision != "timeout" || !tool.IsError || strings.Contains(tool.Content, "hi\n") {
		t.Fatalf("tool record = %+v", tool)
	}
}
