package agent

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/genos-project/genos/core/model/modeltest"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/tools"
)

// pickTools is an Augmenter that keeps the named tools and adds a fixed
// memory block, recording what it was asked.
type pickTools struct {
	keep     []string
	block    string
	err      error
	calls    int
	message  string
	offered  []string
	memories bool
}

func (p *pickTools) Augment(_ context.Context, req AugmentRequest) (Augmentation, error) {
	p.calls++
	p.message = req.Message
	p.memories = req.Memories
	p.offered = nil
	offered := req.Offered
	for _, t := range offered {
		p.offered = append(p.offered, t.Name)
	}
	if p.err != nil {
		return Augmentation{}, p.err
	}
	var out []tools.Tool
	for _, t := range offered {
		if slices.Contains(p.keep, t.Name) {
			out = append(out, t)
		}
	}
	return Augmentation{Memory: p.block, Tools: out, ToolTokensSaved: 123, MemoryTokens: 45}, nil
}

func TestAugmentAddsMemoriesAndFiltersTools(t *testing.T) {
	rules := policy.DefaultRules()
	rules.Categories["exec"] = policy.ModeDeny
	f := newFixture(t, rules, nil)
	aug := &pickTools{keep: []string{"read", "write"}, block: "memories[1]{rank,score,source,snippet}:\n  1,0.91,MEMORY.md#L3-L4,Mara likes oat milk"}
	f.runner.Augment = aug
	f.srv.Enqueue(modeltest.Reply{Text: "noted"})
	res, err := f.run(context.Background(), "what milk do I like?", nil)
	if err != nil {
		t.Fatal(err)
	}
	if aug.calls != 1 || aug.message != "what milk do I like?" || !aug.memories {
		t.Fatalf("augmenter called %d times with %q", aug.calls, aug.message)
	}
	if slices.Contains(aug.offered, "exec") {
		t.Errorf("a denied tool was offered to the augmenter: %v", aug.offered)
	}
	reqs := f.srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d model requests", len(reqs))
	}
	if got := reqs[0].Tools; !slices.Equal(got, []string{"read", "write"}) {
		t.Errorf("tools sent = %v, want the augmenter's pick", got)
	}
	if !strings.Contains(reqs[0].System, "Memories that may be relevant") || !strings.Contains(reqs[0].System, "Mara likes oat milk") {
		t.Errorf("system prompt lacks the memory block:\n%s", reqs[0].System)
	}
	if res.Usage.ToolTokensSaved != 123 || res.Usage.MemoryTokens != 45 {
		t.Errorf("usage = %+v, want the augmentation's accounting", res.Usage)
	}
	recs := f.records(t)
	if u := recs[len(recs)-1].Usage; u == nil || u.ToolTokensSaved != 123 || u.MemoryTokens != 45 {
		t.Errorf("the reply's usage record = %+v, want what its request saved and spent", u)
	}
}

func TestAugmentFailureKeepsEveryTool(t *testing.T) {
	f := newFixture(t, policy.DefaultRules(), nil)
	f.runner.Augment = &pickTools{err: errors.New("embedder unreachable")}
	f.srv.Enqueue(modeltest.Reply{Text: "fine"})
	if _, err := f.run(context.Background(), "hello", nil); err != nil {
		t.Fatalf("a failing augmenter failed the run: %v", err)
	}
	reqs := f.srv.Requests()
	if got, want := len(reqs[0].Tools), len(f.runner.Tools.List()); got != want {
		t.Errorf("%d tools sent, want all %d", got, want)
	}
	if strings.Contains(reqs[0].System, "Memories that may be relevant") {
		t.Error("memory block present although the augmenter failed")
	}
}

func TestAugmentWithholdsMemoriesWhenTheRulesDenyThem(t *testing.T) {
	rules := policy.DefaultRules()
	rules.Categories["memory"] = policy.ModeDeny
	f := newFixture(t, rules, nil)
	aug := &pickTools{keep: []string{"read"}, block: "memories[1]{rank,score,source,snippet}:\n  1,0.9,MEMORY.md#L1-L2,zq-withheld-marker"}
	f.runner.Augment = aug
	f.srv.Enqueue(modeltest.Reply{Text: "hi"})
	if _, err := f.run(context.Background(), "tell me a secret", nil); err != nil {
		t.Fatal(err)
	}
	if aug.memories {
		t.Error("the augmenter was told memories are allowed")
	}
	if sys := f.srv.Requests()[0].System; strings.Contains(sys, "zq-withheld-marker") {
		t.Errorf("memories reached a run whose rules deny them:\n%s", sys)
	}
}
