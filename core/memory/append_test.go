package memory

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/tools"
	"github.com/genos-project/genos/core/toon"
)

func TestInsertText(t *testing.T) {
	for _, tc := range []struct {
		name, content, section, text, want string
	}{
		{"empty", "", "", "fact", "fact\n"},
		{"end", "# Memory\n\nold\n", "", "new", "# Memory\n\nold\n\nnew\n"},
		{"new section", "# Memory\nold\n", "People", "Ana", "# Memory\nold\n\n## People\n\nAna\n"},
		{"existing section in the middle", "## People\n- Ana\n\n## Food\n- tea\n", "people", "- Bo",
			"## People\n- Ana\n\n- Bo\n\n## Food\n- tea\n"},
		{"section at the end", "## Food\n- tea\n\n\n", "Food", "- rice", "## Food\n- tea\n\n- rice\n"},
		{"subsections stay inside", "## A\nx\n### A1\ny\n## B\nz\n", "A", "new", "## A\nx\n### A1\ny\n\nnew\n\n## B\nz\n"},
		{"fenced heading is not the section", "```\n## Food\n```\n", "Food", "tea", "```\n## Food\n```\n\n## Food\n\ntea\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := insertText(tc.content, tc.section, tc.text); got != tc.want {
				t.Errorf("insertText:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestAppend(t *testing.T) {
	e := newEnv(t)
	m := openMem(t, e.options(nil))
	ctx := t.Context()
	if err := m.Append(ctx, Target{}, "Met Jorge at the climbing gym."); err != nil {
		t.Fatal(err)
	}
	if err := m.Append(ctx, Target{File: TargetToday}, "He climbs 6b."); err != nil {
		t.Fatal(err)
	}
	if err := m.Append(ctx, Target{File: TargetMemory, Section: "## People"}, "- Jorge: climbing friend."); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(e.ws, "memory", "2026-11-25.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "# 2026-11-25\n\nMet Jorge at the climbing gym.\n\nHe climbs 6b.\n"; string(got) != want {
		t.Errorf("today's note = %q", got)
	}
	got, _ = os.ReadFile(filepath.Join(e.ws, "MEMORY.md"))
	if want := "## People\n\n- Jorge: climbing friend.\n"; string(got) != want {
		t.Errorf("MEMORY.md = %q", got)
	}
	// Searchable at once, without a Sync.
	hits, err := m.Search(ctx, SearchRequest{Text: "Jorge"})
	if err != nil || len(hits) != 2 {
		t.Fatalf("search after append: %v, %v", sources(hits), err)
	}
	for _, bad := range []struct {
		t    Target
		text string
	}{
		{Target{}, "  "},
		{Target{File: "AGENTS.md"}, "x"},
		{Target{Section: "a\nb"}, "x"},
		{Target{}, strings.Repeat("x", maxAppendBytes+1)},
		{Target{}, "bad \xff"},
	} {
		if err := m.Append(ctx, bad.t, bad.text); err == nil {
			t.Errorf("Append(%+v, %.10q) succeeded", bad.t, bad.text)
		}
	}
	// A note that exists but cannot be read is never overwritten.
	e.write(t, "MEMORY.md", "NYXENC1\n{\"salt\":\"00\"}")
	if err := m.Append(ctx, Target{File: TargetMemory}, "x"); err == nil || !strings.Contains(err.Error(), "left as it is") {
		t.Fatalf("append over an unreadable note: %v", err)
	}
}

func runTool(t *testing.T, m *Memory, name string, args any) tools.Result {
	t.Helper()
	raw, _ := json.Marshal(args)
	reg, err := tools.NewRegistry(m.Tools()...)
	if err != nil {
		t.Fatal(err)
	}
	tool, ok := reg.Get(name)
	if !ok {
		t.Fatalf("no tool %s", name)
	}
	if tool.Category != tools.CategoryMemory || len(tool.Description) < 80 || len(tool.Examples) < 3 {
		t.Errorf("%s: category %q, description %q", name, tool.Category, tool.Description)
	}
	res, err := tool.Run(context.Background(), tools.Env{Workspace: "/elsewhere"}, raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

func TestToolsEndToEnd(t *testing.T) {
	e := newEnv(t)
	m := openMem(t, e.options(nil))
	res := runTool(t, m, "memory_write", map[string]any{"text": "The user's passport expires in March 2027.", "target": "memory", "section": "Documents"})
	if res.IsError || res.Content != `Saved to MEMORY.md under "Documents".` {
		t.Fatalf("memory_write: %+v", res)
	}
	res = runTool(t, m, "memory_write", map[string]any{"text": "Renewal appointment booked for 2 Dec."})
	if res.IsError || res.Content != "Saved to memory/2026-11-25.md." {
		t.Fatalf("memory_write today: %+v", res)
	}

	res = runTool(t, m, "memory_search", map[string]any{"query": "passport expiry"})
	if res.IsError {
		t.Fatalf("memory_search: %+v", res)
	}
	v, err := toon.Unmarshal([]byte(res.Content), toon.DefaultDecodeOptions())
	if err != nil {
		t.Fatalf("memory_search result is not TOON: %v\n%s", err, res.Content)
	}
	rows, _ := v.(toon.Object).Get("results")
	first := rows.([]any)[0].(toon.Object)
	src, _ := first.Get("source")
	if src != "MEMORY.md#L1-L3" {
		t.Fatalf("first source %v in\n%s", src, res.Content)
	}

	res = runTool(t, m, "memory_get", map[string]any{"path": src})
	if want := "1\t## Documents\n2\t\n3\tThe user's passport expires in March 2027.\n"; res.IsError || res.Content != want {
		t.Fatalf("memory_get by citation: %q", res.Content)
	}
	res = runTool(t, m, "memory_get", map[string]any{"path": "./memory/2026-11-25.md", "from": 2, "lines": 1})
	if want := "2\t\n[lines 2-2 of 3; call memory_get with from=3 to continue]"; res.Content != want {
		t.Fatalf("ranged memory_get: %q", res.Content)
	}

	for _, tc := range []struct {
		tool string
		args any
		want string
	}{
		{"memory_get", map[string]any{"path": "../secrets.json"}, "reads only"},
		{"memory_get", map[string]any{"path": "AGENTS.md"}, "reads only"},
		{"memory_get", map[string]any{"path": "/etc/passwd"}, "reads only"},
		{"memory_get", map[string]any{"path": "memory/../../x.md"}, "reads only"},
		{"memory_get", map[string]any{"path": "memory/none.md"}, "does not exist"},
		{"memory_get", map[string]any{"path": "MEMORY.md", "from": 99}, "past the end"},
		{"memory_get", map[string]any{"path": "MEMORY.md", "lines": -1}, "lines 1 to"},
		{"memory_search", map[string]any{"query": ""}, "query is required"},
		{"memory_search", map[string]any{"query": "x", "limit": 99}, "limit"},
		{"memory_search", map[string]any{"query": "x", "extra": 1}, "unknown field"},
		{"memory_search", "not an object", "invalid arguments"},
		{"memory_write", map[string]any{"text": "x", "target": "AGENTS.md"}, "target must be"},
		{"memory_write", map[string]any{"text": ""}, "empty text"},
	} {
		res := runTool(t, m, tc.tool, tc.args)
		if !res.IsError || !strings.Contains(res.Content, tc.want) {
			t.Errorf("%s(%v) = %+v; want an error with %q", tc.tool, tc.args, res, tc.want)
		}
	}
	res = runTool(t, m, "memory_search", map[string]any{"query": "zebra xylophone"})
	if res.IsError || !strings.HasPrefix(res.Content, "No memories matched") {
		t.Fatalf("search without a match: %+v", res)
	}
}

func TestPrefetchTOON(t *testing.T) {
	e := newEnv(t)
	e.write(t, "MEMORY.md", memoryNote)
	e.write(t, "memory/2026-11-20.md", datedNote)
	m := openMem(t, e.options(nil))
	ctx := t.Context()
	if _, err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := m.Prefetch(ctx, "When is my flight TP1234 to Lisbon?", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Hits) == 0 {
		t.Fatal("nothing prefetched")
	}
	header := "memories[" + itoa(len(p.Hits)) + "]{rank,score,source,snippet}:\n"
	if !strings.HasPrefix(p.Block, header) {
		t.Fatalf("block does not start with %q:\n%s", header, p.Block)
	}
	v, err := toon.Unmarshal([]byte(p.Block), toon.DefaultDecodeOptions())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := toon.ToJSON(v)
	var got struct {
		Memories []struct {
			Rank    int     `json:"rank"`
			Score   float64 `json:"score"`
			Source  string  `json:"source"`
			Snippet string  `json:"snippet"`
		} `json:"memories"`
	}
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	r := got.Memories[0]
	if r.Rank != 1 || r.Source != "memory/2026-11-20.md#L3-L4" || !strings.Contains(r.Snippet, "TP1234") ||
		r.Score != float64(int(p.Hits[0].Score*100+0.5))/100 {
		t.Errorf("first row %+v (score %v)", r, p.Hits[0].Score)
	}
	// TOON states the field names once: never more than JSON, less as soon
	// as there are several rows.
	if p.Tokens == 0 || p.JSONTokens < p.Tokens || (len(p.Hits) > 1 && p.JSONTokens == p.Tokens) {
		t.Errorf("tokens: TOON %d, JSON %d", p.Tokens, p.JSONTokens)
	}

	// Nothing relevant: no block at all.
	p, err = m.Prefetch(ctx, "quantum chromodynamics", nil)
	if err != nil || p.Block != "" || len(p.Hits) != 0 || p.Tokens != 0 {
		t.Fatalf("irrelevant prefetch: %+v, %v", p, err)
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

func TestSnippet(t *testing.T) {
	long := strings.Repeat("word ", 100)
	for _, tc := range []struct{ in, want string }{
		{"a\n\n b\tc", "a b c"},
		{long, strings.TrimSpace(strings.Repeat("word ", 60)) + "…"},
	} {
		if got := snippet(tc.in, 300); got != tc.want {
			t.Errorf("snippet = %q", got)
		}
	}
	if d := cmp.Diff([]string{"0.87", "1", "0", "0.1"}, []string{roundScore(0.8666), roundScore(1), roundScore(-0.001), roundScore(0.1)}); d != "" {
		t.Errorf("roundScore: %s", d)
	}
}
