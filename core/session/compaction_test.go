package session

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/chat"
)

// Helpers that build records with readable IDs.
func user(id string) chat.Record { return chat.Record{ID: id, Role: chat.RoleUser, Content: id} }
func reply(id string) chat.Record {
	return chat.Record{ID: id, Role: chat.RoleAssistant, Content: id}
}
func calls(id string, callIDs ...string) chat.Record {
	r := chat.Record{ID: id, Role: chat.RoleAssistant}
	for _, c := range callIDs {
		r.ToolCalls = append(r.ToolCalls, chat.ToolCall{ID: c, Name: "ls"})
	}
	return r
}
func result(id, callID string) chat.Record {
	return chat.Record{ID: id, Role: chat.RoleTool, ToolCallID: callID, ToolName: "ls"}
}
func marker(id, kind string) chat.Record {
	return chat.Record{ID: id, Kind: kind, Role: chat.RoleAssistant}
}

func ids(recs []chat.Record) []string {
	out := []string{}
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

func TestCompactionCut(t *testing.T) {
	tests := []struct {
		name string
		recs []chat.Record
		keep int
		want int // index of the first kept record; 0 = nothing to compact
	}{
		{
			name: "too few turns",
			recs: []chat.Record{user("u1"), reply("a1"), user("u2"), reply("a2")},
			keep: 2,
			want: 0,
		},
		{
			name: "keeps the last turns",
			recs: []chat.Record{user("u1"), reply("a1"), user("u2"), reply("a2"), user("u3"), reply("a3")},
			keep: 2,
			want: 2,
		},
		{
			name: "keep below one means one",
			recs: []chat.Record{user("u1"), reply("a1"), user("u2")},
			keep: 0,
			want: 2,
		},
		{
			name: "tool rounds stay with their turn",
			recs: []chat.Record{
				user("u1"), calls("c1", "x"), result("r1", "x"), calls("c2", "y", "z"), result("r2", "y"), result("r3", "z"), reply("a1"),
				user("u2"), calls("c3", "w"), result("r4", "w"), reply("a2"),
			},
			keep: 1,
			want: 7,
		},
		{
			// A user message landed between a call and its result (a
			// message queued mid-run, say): cutting at u2 would orphan r1.
			name: "moves before a split pair",
			recs: []chat.Record{
				user("u0"), reply("a0"),
				user("u1"), calls("c1", "x"), user("u2"), result("r1", "x"), reply("a1"),
				user("u3"), reply("a3"),
			},
			keep: 2,
			want: 2,
		},
		{
			name: "no valid cut",
			recs: []chat.Record{
				user("u1"), calls("c1", "x"), user("u2"), result("r1", "x"), user("u3"),
			},
			keep: 2,
			want: 0,
		},
		{
			name: "markers do not count as turns",
			recs: []chat.Record{
				user("u1"), reply("a1"),
				{ID: "f1", Kind: chat.RecordMemoryFlush, Role: chat.RoleUser},
				user("u2"), marker("e1", chat.RecordError),
				user("u3"), reply("a3"),
			},
			keep: 2,
			want: 3,
		},
		{
			name: "only markers before the cut",
			recs: []chat.Record{
				{ID: "comp", Kind: chat.RecordCompaction, Role: chat.RoleSystem},
				user("u1"), reply("a1"), user("u2"),
			},
			keep: 1,
			want: 3,
		},
		{
			// u2 splits a pair, and before u1 there is only a marker.
			name: "nothing but markers before the only valid cut",
			recs: []chat.Record{
				{ID: "comp", Kind: chat.RecordCompaction, Role: chat.RoleSystem},
				user("u1"), calls("c1", "x"), user("u2"), result("r1", "x"),
			},
			keep: 1,
			want: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CompactionCut(tt.recs, tt.keep)
			if got != tt.want {
				t.Fatalf("CompactionCut = %d, want %d", got, tt.want)
			}
			if got == 0 {
				return
			}
			// Whatever the cut, no result after it answers a call before it.
			before := map[string]bool{}
			for _, r := range tt.recs[:got] {
				for _, c := range r.ToolCalls {
					before[c.ID] = true
				}
			}
			for _, r := range tt.recs[got:] {
				if r.Role == chat.RoleTool && before[r.ToolCallID] {
					t.Fatalf("cut %d splits call %s from its result", got, r.ToolCallID)
				}
			}
			if r := tt.recs[got]; r.Role != chat.RoleUser || r.Kind != "" {
				t.Fatalf("cut at %+v, want a user message", r)
			}
		})
	}
}

func TestContextRecords(t *testing.T) {
	comp := func(id, through string) chat.Record {
		return chat.Record{ID: id, Kind: chat.RecordCompaction, Role: chat.RoleSystem, Content: id,
			Compaction: &chat.Compaction{Through: through}}
	}
	tests := []struct {
		name        string
		recs        []chat.Record
		wantSummary string // "" = none
		wantTail    []string
	}{
		{
			name:     "never compacted",
			recs:     []chat.Record{user("u1"), reply("a1")},
			wantTail: []string{"u1", "a1"},
		},
		{
			name:        "tail after through",
			recs:        []chat.Record{user("u1"), reply("a1"), user("u2"), reply("a2"), comp("k1", "a1"), user("u3")},
			wantSummary: "k1",
			wantTail:    []string{"u2", "a2", "k1", "u3"},
		},
		{
			name: "latest compaction wins",
			recs: []chat.Record{user("u1"), reply("a1"), user("u2"), comp("k1", "a1"), reply("a2"),
				user("u3"), comp("k2", "a2"), reply("a3")},
			wantSummary: "k2",
			wantTail:    []string{"u3", "k2", "a3"},
		},
		{
			name:        "through missing",
			recs:        []chat.Record{user("u2"), reply("a2"), comp("k1", "gone"), user("u3")},
			wantSummary: "k1",
			wantTail:    []string{"u3"},
		},
		{
			name:     "compaction without details is ignored",
			recs:     []chat.Record{user("u1"), {ID: "k", Kind: chat.RecordCompaction, Role: chat.RoleSystem}, user("u2")},
			wantTail: []string{"u1", "k", "u2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			summary, tail := ContextRecords(tt.recs)
			got := ""
			if summary != nil {
				got = summary.ID
			}
			if got != tt.wantSummary {
				t.Errorf("summary = %q, want %q", got, tt.wantSummary)
			}
			if diff := cmp.Diff(tt.wantTail, ids(tail)); diff != "" {
				t.Errorf("tail (-want +got):\n%s", diff)
			}
		})
	}
}
