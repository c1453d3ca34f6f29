package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/genos-project/genos/core/chat"
	"github.com/genos-project/genos/core/model"
	"github.com/genos-project/genos/core/model/modeltest"
)

func TestRecentlyFlushed(t *testing.T) {
	user := chat.Record{Role: chat.RoleUser, Content: "hi"}
	flush := chat.Record{Kind: chat.RecordMemoryFlush, Role: chat.RoleUser}
	comp := chat.Record{Kind: chat.RecordCompaction, Role: chat.RoleSystem}
	tests := []struct {
		name string
		recs []chat.Record
		want bool
	}{
		{"never flushed", []chat.Record{user, user}, false},
		{"flushed, then one message", []chat.Record{user, flush, user}, true},
		{"flushed, then two messages", []chat.Record{user, flush, user, user}, false},
		{"flushed before the last compaction", []chat.Record{flush, comp, user}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := recentlyFlushed(tt.recs); got != tt.want {
				t.Errorf("recentlyFlushed = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCompactSkipsWhatIsNotWorthIt(t *testing.T) {
	f := newCompactFixture(t, nil)
	f.runner.MinCompactTokens = 0 // the default
	f.runner.KeepTurns = 1
	ctx := context.Background()
	for i := range 3 {
		f.srv.Enqueue(modeltest.Reply{Text: "ok"})
		if _, err := f.run(ctx, fmt.Sprintf("short %d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	n := len(f.srv.Requests())
	res, err := f.runner.Compact(ctx, CompactRun{SessionKey: f.sess.Key.String(), Transcript: f.sess, Provider: f.prov, Model: "m"})
	if err != nil || res.Compacted || !strings.Contains(res.Reason, "Nothing worth compacting") {
		t.Fatalf("compact = %+v, %v", res, err)
	}
	if len(f.srv.Requests()) != n {
		t.Error("a compaction not worth doing called the model")
	}
}

func TestPromptBoundIsAnUpperBound(t *testing.T) {
	texts := []string{"", "hello world", "\xff\xfe\xfd", "日本語のテキスト", `{"a":[1,2,3]}`, strings.Repeat("x\n", 50), "a b c d e f"}
	for _, sys := range texts {
		for _, content := range texts {
			msgs := []chat.Message{{Role: chat.RoleUser, Content: content},
				{Role: chat.RoleAssistant, ToolCalls: []chat.ToolCall{{Name: "read", Arguments: json.RawMessage(`{"path":"` + content + `"}`)}}}}
			specs := []model.ToolSpec{{Name: "t", Description: content, Parameters: json.RawMessage(`{"type":"object"}`)}}
			if b, e := promptBound(sys, msgs, specs), estimatePrompt(sys, msgs, specs); b < e {
				t.Errorf("bound %d < estimate %d for %q / %q", b, e, sys, content)
			}
		}
	}
}
