package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/genos-project/genos/core/tokens"
	"github.com/google/go-cmp/cmp"
)

// vecEmbedder is the filter's Embedder fed with hand-built vectors: each text
// gets the vector registered for its first line (the tool name with spaces),
// so tests decide every similarity exactly.
type vecEmbedder struct {
	byName map[string][]float32
	err    error
	calls  int
}

func (e *vecEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	e.calls++
	if e.err != nil {
		return nil, e.err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		first, _, _ := strings.Cut(t, "\n")
		out[i] = e.byName[first]
	}
	return out, nil
}

// at returns a unit vector at angle deg in a plane, so the cosine between
// two of them is cos(difference).
func at(deg float64) []float32 {
	r := deg * math.Pi / 180
	return []float32{float32(math.Cos(r)), float32(math.Sin(r))}
}

func tool(name, desc string, examples ...string) Tool {
	return Tool{Name: name, Description: desc, Examples: examples, Category: CategoryRead,
		Schema: json.RawMessage(`{"type":"object","properties":{"q":{"type":"string"}}}`)}
}

func names(ts []Tool) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func cost(ts ...Tool) int {
	n := 0
	for _, t := range ts {
		n += tokens.Estimate(t.Name) + tokens.Estimate(t.Description) + tokens.Estimate(string(t.Schema))
	}
	return n
}

var testTools = []Tool{
	tool("read", "Read a file from the workspace."),
	tool("weather", "Current weather and forecast for a city.", "will it rain tomorrow in Paris"),
	tool("email_send", "Send an email message to a contact."),
	tool("calendar", "Create and list calendar events.", "book a meeting on friday"),
	tool("web_search", "Search the web for pages."),
	tool("exec", "Run a shell command."),
	tool("image_gen", "Generate an image from a prompt."),
}

// Angles: the message vector is at 0 degrees; cos(60) = 0.5, cos(80) =
// 0.17, cos(85) = 0.09, cos(89) = 0.02.
func testEmbedder() *vecEmbedder {
	return &vecEmbedder{byName: map[string][]float32{
		"read": at(90), "weather": at(10), "email send": at(60), "calendar": at(80),
		"web search": at(85), "exec": at(90), "image gen": at(89),
	}}
}

func TestFilterVectors(t *testing.T) {
	ctx := context.Background()
	e := testEmbedder()
	tests := []struct {
		name        string
		opts        FilterOptions
		offered     []Tool
		wantTools   []string
		wantDropped []string
	}{
		{
			name:        "floor and min keep",
			opts:        FilterOptions{MinCosine: 0.4, MinKeep: 1},
			offered:     testTools,
			wantTools:   []string{"read", "weather", "email_send", "exec"},
			wantDropped: []string{"calendar", "web_search", "image_gen"},
		},
		{
			name:        "min keep passes the best below the floor",
			opts:        FilterOptions{MinCosine: 0.95, MinKeep: 2},
			offered:     testTools,
			wantTools:   []string{"read", "weather", "email_send", "exec"},
			wantDropped: []string{"calendar", "web_search", "image_gen"},
		},
		{
			name:        "defaults: floor 0.25, keep 3",
			offered:     testTools,
			wantTools:   []string{"read", "weather", "email_send", "calendar", "exec"},
			wantDropped: []string{"web_search", "image_gen"},
		},
		{
			name:        "negative min keep keeps none below the floor",
			opts:        FilterOptions{MinCosine: 0.99, MinKeep: -1},
			offered:     testTools,
			wantTools:   []string{"read", "exec"},
			wantDropped: []string{"weather", "email_send", "calendar", "web_search", "image_gen"},
		},
		{
			name:        "core tools pass even when dissimilar",
			opts:        FilterOptions{MinCosine: 0.99, MinKeep: -1, Always: []string{"image_gen"}},
			offered:     testTools,
			wantTools:   []string{"image_gen"},
			wantDropped: []string{"read", "weather", "email_send", "calendar", "web_search", "exec"},
		},
		{
			name:      "only offered tools are considered, order kept",
			opts:      FilterOptions{MinCosine: 0.4, MinKeep: 1},
			offered:   []Tool{testTools[4], testTools[0], testTools[6]},
			wantTools: []string{"web_search", "read"},
			// web_search (cos 0.09) is the best offered non-core tool.
			wantDropped: []string{"image_gen"},
		},
		{
			name:      "unknown tools pass",
			opts:      FilterOptions{MinCosine: 0.99, MinKeep: -1},
			offered:   []Tool{tool("new_tool", "Added after the filter was built."), testTools[1]},
			wantTools: []string{"new_tool"},
			// weather is known and below the floor.
			wantDropped: []string{"weather"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFilter(ctx, testTools, e, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			sel := f.Select("irrelevant text: vectors decide", at(0), tt.offered)
			if diff := cmp.Diff(tt.wantTools, names(sel.Tools)); diff != "" {
				t.Errorf("tools (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantDropped, sel.Dropped); diff != "" {
				t.Errorf("dropped (-want +got):\n%s", diff)
			}
			var dropped []Tool
			for _, n := range tt.wantDropped {
				for _, t := range testTools {
					if t.Name == n {
						dropped = append(dropped, t)
					}
				}
			}
			if got, want := sel.TokensSaved, cost(dropped...); got != want || (len(dropped) > 0 && got == 0) {
				t.Errorf("TokensSaved = %d, want %d", got, want)
			}
		})
	}
}

func TestFilterEmbedsOnce(t *testing.T) {
	e := testEmbedder()
	f, err := NewFilter(context.Background(), testTools, e, FilterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		f.Select("message", at(0), testTools)
	}
	if e.calls != 1 {
		t.Errorf("embedder called %d times, want 1 (at NewFilter only)", e.calls)
	}
}

func TestFilterBM25(t *testing.T) {
	ctx := context.Background()
	f, err := NewFilter(ctx, testTools, nil, FilterOptions{MinKeep: -1})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		message   string
		wantTools []string
	}{
		{"description words", "please send an email to Bob", []string{"read", "email_send", "exec"}},
		{"example intents count", "will it rain in Paris?", []string{"read", "weather", "exec"}},
		{"name words count", "calendar for next week", []string{"read", "calendar", "exec"}},
		{"no shared word keeps core only", "thanks!", []string{"read", "exec"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel := f.Select(tt.message, nil, testTools)
			if diff := cmp.Diff(tt.wantTools, names(sel.Tools)); diff != "" {
				t.Errorf("tools (-want +got):\n%s", diff)
			}
			if len(sel.Tools)+len(sel.Dropped) != len(testTools) {
				t.Errorf("%d passed + %d dropped != %d offered", len(sel.Tools), len(sel.Dropped), len(testTools))
			}
		})
	}
	t.Run("min keep with no shared word", func(t *testing.T) {
		f, err := NewFilter(ctx, testTools, nil, FilterOptions{MinKeep: 2})
		if err != nil {
			t.Fatal(err)
		}
		sel := f.Select("thanks!", nil, testTools)
		if diff := cmp.Diff([]string{"read", "weather", "email_send", "exec"}, names(sel.Tools)); diff != "" {
			t.Errorf("tools (-want +got):\n%s", diff)
		}
	})
	t.Run("vector without tool vectors uses bm25", func(t *testing.T) {
		sel := f.Select("send an email", at(0), testTools)
		if diff := cmp.Diff([]string{"read", "email_send", "exec"}, names(sel.Tools)); diff != "" {
			t.Errorf("tools (-want +got):\n%s", diff)
		}
	})
}

func TestFilterFallsBackToBM25(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		e    *vecEmbedder
	}{
		{"embedder error", &vecEmbedder{err: errors.New("connection refused")}},
		{"missing vectors", &vecEmbedder{byName: map[string][]float32{"read": at(0)}}},
		{"mixed dimensions", func() *vecEmbedder {
			e := testEmbedder()
			e.byName["weather"] = []float32{1, 0, 0}
			return e
		}()},
		{"zero vector", func() *vecEmbedder {
			e := testEmbedder()
			e.byName["weather"] = []float32{0, 0}
			return e
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			f, err := NewFilter(ctx, testTools, tt.e, FilterOptions{MinKeep: -1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatalf("NewFilter must not fail when the embedder does: %v", err)
			}
			if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "BM25") {
				t.Errorf("want one log line about BM25, got %q", logs.String())
			}
			// BM25 decides even though a message vector is given.
			sel := f.Select("send an email", at(0), testTools)
			if diff := cmp.Diff([]string{"read", "email_send", "exec"}, names(sel.Tools)); diff != "" {
				t.Errorf("tools (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFilterMessageVectorDimensionMismatch(t *testing.T) {
	f, err := NewFilter(context.Background(), testTools, testEmbedder(), FilterOptions{MinKeep: -1})
	if err != nil {
		t.Fatal(err)
	}
	sel := f.Select("send an email", []float32{1, 0, 0}, testTools)
	if diff := cmp.Diff([]string{"read", "email_send", "exec"}, names(sel.Tools)); diff != "" {
		t.Errorf("tools (-want +got):\n%s", diff)
	}
}

func TestNewFilterErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := NewFilter(ctx, []Tool{tool("a", "x"), tool("a", "y")}, nil, FilterOptions{}); err == nil {
		t.Error("duplicate names accepted")
	}
	if _, err := NewFilter(ctx, []Tool{tool("", "x")}, nil, FilterOptions{}); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := NewFilter(ctx, nil, nil, FilterOptions{MinCosine: math.NaN()}); err == nil {
		t.Error("NaN floor accepted")
	}
	f, err := NewFilter(ctx, nil, testEmbedder(), FilterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sel := f.Select("x", at(0), []Tool{tool("a", "b")}); len(sel.Tools) != 1 || sel.TokensSaved != 0 {
		t.Errorf("empty filter: %+v", sel)
	}
}

func TestDefaultAlwaysTools(t *testing.T) {
	a := DefaultAlwaysTools()
	a[0] = "changed"
	if DefaultAlwaysTools()[0] != "read" {
		t.Error("DefaultAlwaysTools shares its slice")
	}
	want := []string{"read", "write", "edit", "exec", "memory_search", "memory_write", "config_manage"}
	if diff := cmp.Diff(want, DefaultAlwaysTools()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
