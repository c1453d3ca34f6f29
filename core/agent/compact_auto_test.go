package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model/modeltest"
)

// promptSize estimates what a run with input text would send right now.
func (f *fixture) promptSize(t *testing.T, input string) int {
	t.Helper()
	system, err := SystemPrompt(f.runner.Info, f.runner.Workspace, nil, f.runner.now())
	if err != nil {
		t.Fatal(err)
	}
	recs := append(f.records(t), chat.Record{ID: "in", Role: chat.RoleUser, Content: input})
	return estimatePrompt(system, contextMessages(recs), f.runner.toolSpecs(f.runner.Rules))
}

func TestRunAutoCompacts(t *testing.T) {
	mem := &memoryTool{}
	f := newCompactFixture(t, mem)
	f.runner.KeepTurns = 2
	seed(t, f, 1, 6)
	need := f.promptSize(t, "next?")
	// Over the threshold, but the flush turn still fits the window.
	f.runner.ReserveTokens = 300
	f.runner.ContextWindow = need + 200
	f.srv.SetDefault(func(r modeltest.RecordedRequest) modeltest.Reply {
		if isSummaryRequest(r) {
			return modeltest.Reply{Text: summaryJSON("auto")}
		}
		return modeltest.Echo(r)
	})
	var kinds []EventKind
	res, err := f.run(context.Background(), "next?", func(e Event) { kinds = append(kinds, e.Kind) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Final.Content != "echo: next?" {
		t.Fatalf("final = %q", res.Final.Content)
	}
	reqs := f.srv.Requests()
	if len(reqs) != 3 || len(reqs[0].Tools) != 1 || !isSummaryRequest(reqs[1]) {
		t.Fatalf("requests: want flush, summary, run; got %d", len(reqs))
	}
	runReq := reqs[2]
	// The input is one of the two kept turns: summary, u6, a6, input.
	if len(runReq.Messages) != 4 || !strings.HasPrefix(runReq.Messages[0].Content, summaryLabel) ||
		runReq.Messages[3].Content != "next?" || !strings.HasPrefix(runReq.Messages[1].Content, "question 6:") {
		t.Fatalf("run request = %+v", project(runReq.Messages))
	}
	// Compacted is reported before the reply streams.
	ci, di := -1, -1
	for i, k := range kinds {
		if k == EventCompacted && ci < 0 {
			ci = i
		}
		if k == EventDelta && di < 0 {
			di = i
		}
	}
	if ci < 0 || di < 0 || ci > di {
		t.Fatalf("events = %v", kinds)
	}
	recs := f.records(t)
	var comp *chat.Record
	for i := range recs {
		if recs[i].Kind == chat.RecordCompaction {
			comp = &recs[i]
		}
	}
	if comp == nil || comp.Compaction.Trigger != TriggerAuto || comp.RunID != "run_test" || comp.Compaction.Through != "a5" {
		t.Fatalf("compaction record = %+v", comp)
	}
	if n := len(recs); n != 12+1+2+1+1 {
		t.Fatalf("%d records, want 12 seeded + input + 2 flush + compaction + reply", n)
	}
}

func TestRunContextFull(t *testing.T) {
	t.Run("nothing to compact", func(t *testing.T) {
		f := newCompactFixture(t, nil)
		seed(t, f, 1, 1)
		f.runner.ContextWindow, f.runner.ReserveTokens = 100, 10
		_, err := f.run(context.Background(), "hello", nil)
		if !errors.Is(err, ErrContextFull) {
			t.Fatalf("err = %v, want ErrContextFull", err)
		}
		if n := len(f.srv.Requests()); n != 0 {
			t.Fatalf("%d model calls", n)
		}
		recs := f.records(t)
		if last := recs[len(recs)-1]; last.Kind != chat.RecordError || !strings.Contains(last.Content, "context window") {
			t.Fatalf("last record = %+v", last)
		}
	})
	t.Run("failed compaction still fits", func(t *testing.T) {
		f := newCompactFixture(t, nil)
		f.runner.KeepTurns = 1
		seed(t, f, 1, 3)
		need := f.promptSize(t, "hi")
		f.runner.ContextWindow, f.runner.ReserveTokens = need+50, 100
		f.srv.SetDefault(func(r modeltest.RecordedRequest) modeltest.Reply {
			if isSummaryRequest(r) {
				return modeltest.Reply{Text: "no JSON here"}
			}
			return modeltest.Echo(r)
		})
		res, err := f.run(context.Background(), "hi", nil)
		if err != nil || res.Final.Content != "echo: hi" {
			t.Fatalf("run = %+v, %v", res, err)
		}
		for _, r := range f.records(t) {
			if r.Kind == chat.RecordCompaction {
				t.Fatal("a failed compaction appended a record")
			}
		}
	})
}

func TestCompactSummarisesLongHistoryInBatches(t *testing.T) {
	f := newCompactFixture(t, nil)
	f.runner.KeepTurns = 1
	// A window too small for the whole older part in one summary call.
	f.runner.ContextWindow, f.runner.ReserveTokens = 2500, 1
	seed(t, f, 1, 10)
	var mu sync.Mutex
	calls := 0
	f.srv.SetDefault(func(modeltest.RecordedRequest) modeltest.Reply {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return modeltest.Reply{Text: summaryJSON(fmt.Sprintf("batch %d", calls))}
	})
	res, err := f.compact(t, nil)
	if err != nil || !res.Compacted {
		t.Fatalf("compact = %+v, %v", res, err)
	}
	reqs := f.srv.Requests()
	if len(reqs) < 2 {
		t.Fatalf("%d summary calls, want several batches", len(reqs))
	}
	seen := map[string]int{}
	for i, r := range reqs {
		prompt := r.Messages[0].Content
		// Each batch merges the summary so far.
		if i > 0 && !strings.Contains(prompt, fmt.Sprintf("batch %d", i)) {
			t.Errorf("call %d lacks the summary of call %d", i+1, i)
		}
		for turn := 1; turn <= 10; turn++ {
			if strings.Contains(prompt, fmt.Sprintf("question %d:", turn)) {
				seen[fmt.Sprintf("u%d", turn)]++
			}
		}
	}
	// Every summarised turn went to exactly one batch; the kept one to none.
	for turn := 1; turn <= 9; turn++ {
		if n := seen[fmt.Sprintf("u%d", turn)]; n != 1 {
			t.Errorf("turn %d sent in %d batches", turn, n)
		}
	}
	if seen["u10"] != 0 {
		t.Error("the kept turn was summarised")
	}
	got, err := DecodeSummary(res.Record.Content)
	if err != nil || got.FactsAndDecisions[0] != fmt.Sprintf("batch %d", len(reqs)) {
		t.Fatalf("stored summary = %+v, %v", got, err)
	}
}
