package main

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/genos-project/genos/core/memory"
	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/tokens"
	"github.com/genos-project/genos/core/tools"
)

// repoRetrievalDir is the labelled set seen from the bench package
// directory, where go test runs.
var repoRetrievalDir = filepath.Join("..", retrievalDir)

func TestScoreRuns(t *testing.T) {
	qs := []retrievalQuery{
		{ID: "a", Kind: "name", Expect: []string{"memory/2025-01-01.md"}},
		{ID: "b", Kind: "name", Expect: []string{"memory/2025-01-02.md", "MEMORY.md#Health"}},
		{ID: "c", Kind: "date", Expect: []string{"memory/2025-01-03.md"}},
		{ID: "d", Kind: "number", Expect: []string{"MEMORY.md"}},
		{ID: "e", Kind: "paraphrase", Expect: []string{"memory/2025-01-05.md"}},
	}
	results := map[string][]string{
		// found first: 1/1
		"a": {"memory/2025-01-01.md", "memory/x.md"},
		// two chunks of x count once, so MEMORY.md#Health is the 2nd note: 1/2
		"b": {"memory/x.md", "memory/x.md", "MEMORY.md#Health", "memory/2025-01-02.md"},
		// 6th distinct note: outside recall@5 but in MRR: 1/6
		"c": {"1", "2", "3", "4", "5", "memory/2025-01-03.md"},
		// a section counts for the whole file: 1/3
		"d": {"1", "2", "MEMORY.md#Pets"},
		// beyond depth 10: 0; "e" has no results at all in the other case
		"e": {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "memory/2025-01-05.md"},
	}
	r := scoreRuns(qs, results)
	if r.All.N != 5 || r.All.Found != 3 {
		t.Fatalf("N=%d Found=%d, want 5 and 3", r.All.N, r.All.Found)
	}
	wantMRR := (1 + 0.5 + 1.0/6 + 1.0/3 + 0) / 5
	if math.Abs(r.All.MRR-wantMRR) > 1e-12 || math.Abs(r.All.Recall-0.6) > 1e-12 {
		t.Errorf("recall %v MRR %v, want 0.6 and %v", r.All.Recall, r.All.MRR, wantMRR)
	}
	if diff := cmp.Diff([]string{"c", "e"}, r.Missed); diff != "" {
		t.Errorf("missed (-want +got):\n%s", diff)
	}
	name := r.ByKind["name"]
	if name.N != 2 || name.Found != 2 || math.Abs(name.MRR-0.75) > 1e-12 {
		t.Errorf("name kind = %+v, want 2 found of 2, MRR 0.75", *name)
	}
	if p := r.ByKind["paraphrase"]; p.N != 1 || p.MRR != 0 || p.Recall != 0 {
		t.Errorf("paraphrase kind = %+v, want nothing found", *p)
	}
	if none := scoreRuns(qs[:1], nil); none.All.MRR != 0 || none.All.Found != 0 {
		t.Errorf("no results: %+v, want zero", none.All)
	}
}

func TestParseSectionsAndUnits(t *testing.T) {
	text := "# MEMORY\n\nintro\n\n## Family\n\n- a\n- b\n\n## Health\n\nx\n"
	s := &retrievalSet{sections: parseSections([]byte(text))}
	want := []noteSection{{"Family", 5, 9}, {"Health", 10, 12}}
	if diff := cmp.Diff(want, s.sections, cmp.AllowUnexported(noteSection{})); diff != "" {
		t.Fatalf("sections (-want +got):\n%s", diff)
	}
	tests := []struct {
		path       string
		start, end int
		want       string
	}{
		{"memory/2025-01-01.md", 1, 4, "memory/2025-01-01.md"},
		{"MEMORY.md", 5, 8, "MEMORY.md#Family"},
		{"MEMORY.md", 11, 12, "MEMORY.md#Health"},
		{"MEMORY.md", 1, 3, "MEMORY.md"},
	}
	for _, tt := range tests {
		if got := s.unitOf(tt.path, tt.start, tt.end); got != tt.want {
			t.Errorf("unitOf(%s, %d, %d) = %q, want %q", tt.path, tt.start, tt.end, got, tt.want)
		}
	}
}

func TestSplitSentences(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"One. Two! Three?", []string{"One.", "Two!", "Three?"}},
		{"Room 4.12 is booked. Flight at 07:05.", []string{"Room 4.12 is booked.", "Flight at 07:05."}},
		{"No end", []string{"No end"}},
		{"€1,200 approved.", []string{"€1,200 approved."}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, splitSentences(tt.in)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestRetrievalSet checks the committed set: at least 200 notes and 100
// queries of every kind, each expectation naming an existing note.
func TestRetrievalSet(t *testing.T) {
	set, err := loadRetrievalSet(repoRetrievalDir)
	if err != nil {
		t.Fatal(err)
	}
	if notes := set.notes + len(set.sections); notes < 200 || set.notes < 200 {
		t.Errorf("%d daily notes + %d sections, want at least 200 daily notes", set.notes, len(set.sections))
	}
	if len(set.queries) < 100 {
		t.Errorf("%d queries, want at least 100", len(set.queries))
	}
	kinds := map[string]int{}
	for _, q := range set.queries {
		kinds[q.Kind]++
	}
	for _, k := range queryKinds {
		if kinds[k] < len(set.queries)/6 {
			t.Errorf("%d queries of kind %s, want about a quarter of %d", kinds[k], k, len(set.queries))
		}
	}
}

// TestRetrievalQualityBM25 indexes the real set through core/memory and
// evaluates BM25; the floor is far below the measured value, so it only
// catches a broken pipeline (no hits, wrong mapping), not small changes.
func TestRetrievalQualityBM25(t *testing.T) {
	set, err := loadRetrievalSet(repoRetrievalDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q, err := newQualityEnv(ctx, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	if q.sync.Notes != set.notes+1 {
		t.Errorf("synced %d notes, want %d", q.sync.Notes, set.notes+1)
	}
	r, err := q.evaluate(ctx, q.decay, index.ModeBM25)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BM25, 30-day half-life: %s", qualityValue(r))
	if r.All.N != len(set.queries) || r.All.MRR <= 0 {
		t.Errorf("evaluated %d queries (want %d), MRR %.3f", r.All.N, len(set.queries), r.All.MRR)
	}
	// With the defaults (no recency decay) BM25 finds about 0.87 of the
	// set; the floors are far below, so they catch a broken pipeline (no
	// hits, a wrong mapping of chunks to notes), not small ranking changes.
	flat, err := q.evaluate(ctx, q.mem, index.ModeBM25)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BM25, search defaults: %s", qualityValue(flat))
	t.Logf("missed: %s", strings.Join(flat.Missed, " "))
	if flat.All.Recall < 0.5 || flat.All.MRR < 0.4 || flat.All.MRR > 1 {
		t.Errorf("BM25 recall@5 %.3f, MRR %.3f: the pipeline is broken", flat.All.Recall, flat.All.MRR)
	}
	// Name and number queries share rare words with their note.
	for _, k := range []string{"name", "number"} {
		if m := flat.ByKind[k]; m.Recall < 0.7 {
			t.Errorf("BM25 recall@5 on %s queries %.3f, want at least 0.7", k, m.Recall)
		}
	}

	toonTok, jsonTok, blocks, _, err := q.prefetchTokens(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if blocks == 0 || toonTok <= 0 || toonTok >= jsonTok {
		t.Errorf("prefetch: %d blocks, TOON %d tokens, JSON %d: want blocks and TOON smaller", blocks, toonTok, jsonTok)
	}
}

func TestTimingVectors(t *testing.T) {
	vs, err := timingVectors{}.Embed(context.Background(), []string{"a", "b", "a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || len(vs[0]) != timingDims {
		t.Fatalf("got %d vectors of %d dims", len(vs), len(vs[0]))
	}
	if diff := cmp.Diff(vs[0], vs[2]); diff != "" {
		t.Errorf("same text, different vectors")
	}
	var norm float64
	for _, x := range vs[1] {
		norm += float64(x) * float64(x)
	}
	if math.Abs(norm-1) > 1e-4 {
		t.Errorf("norm² = %v, want 1", norm)
	}
}

func TestEmbedderFromEnv(t *testing.T) {
	t.Setenv(envEmbedURL, "")
	t.Setenv(envONNXModel, "")
	if b, err := embedderFromEnv(context.Background()); b != nil || err != nil {
		t.Errorf("nothing set: got %v, %v; want nil, nil", b, err)
	}
	t.Setenv(envEmbedURL, "http://127.0.0.1:1/v1")
	t.Setenv(envEmbedModel, "")
	if _, err := embedderFromEnv(context.Background()); err == nil || !strings.Contains(err.Error(), envEmbedModel) {
		t.Errorf("URL without model: err = %v, want one naming %s", err, envEmbedModel)
	}
}

func TestBenchToolsAndScenarios(t *testing.T) {
	ts := benchTools(realMemoryTools(t))
	if err := checkScenarios(ts); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tl := range ts {
		if seen[tl.Name] {
			t.Errorf("tool %s twice", tl.Name)
		}
		seen[tl.Name] = true
		spec, err := toolSpecJSON(tl)
		if err != nil {
			t.Fatalf("%s: %v", tl.Name, err)
		}
		if tokens.Estimate(spec) < 20 || !tl.Category.Valid() {
			t.Errorf("%s: spec of %d tokens, category %q", tl.Name, tokens.Estimate(spec), tl.Category)
		}
	}
	if len(ts) < 20 {
		t.Errorf("%d tools, want a realistic list of at least 20", len(ts))
	}
}

// realMemoryTools returns the tools of a Memory over an empty workspace.
func realMemoryTools(t *testing.T) []tools.Tool {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	if err := os.MkdirAll(ws, 0o700); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, filepath.Join(dir, "genos.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := memory.Open(ctx, memory.Options{AgentID: benchAgent, Workspace: ws, DB: db})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m.Tools()
}

func TestMemoryFormatters(t *testing.T) {
	tests := []struct{ got, want string }{
		{pctChange(69, 100), "−31%"},
		{pctChange(150, 100), "+50%"},
		{pctChange(1, 0), "n/a"},
		{fmtCount(10_000), "10k"},
		{fmtCount(100_000), "100k"},
		{fmtCount(1234), "1234"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestSynthChunks(t *testing.T) {
	sents := []string{"A one.", "B two.", "C three.", "D four."}
	a, b := synthChunks(sents, 50), synthChunks(sents, 50)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("not deterministic:\n%s", diff)
	}
	for _, c := range a {
		if n := len(splitSentences(c)); n < minChunkSentences || n > maxChunkSentences {
			t.Errorf("chunk %q has %d sentences", c, n)
		}
	}
}

// TestEmbedderRowsPlumbing runs the quality and tool-filter rows with the
// timing-only vectors standing in for an embedder. The numbers mean nothing
// (the vectors are random); the test only proves the vector and hybrid
// paths produce their rows, since no real embedder exists on build machines.
func TestEmbedderRowsPlumbing(t *testing.T) {
	set, err := loadRetrievalSet(repoRetrievalDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	emb := &benchEmbedder{e: timingVectors{}, desc: "timing-only vectors (test)"}
	rows, _, err := qualityRows(ctx, set, emb)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"BM25 only": 2, "vectors only": 2, "hybrid (RRF k=60)": 2, "TOON vs JSON": 2}
	got := map[string]int{}
	for _, r := range rows {
		for k := range want {
			if strings.Contains(r.Name, k) {
				got[k]++
			}
		}
		if strings.Contains(r.Value, "no embedder") {
			t.Errorf("row %q says no embedder", r.Name)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows by kind (-want +got):\n%s", diff)
	}
	frows, _, err := toolFilterRows(ctx, emb)
	if err != nil {
		t.Fatal(err)
	}
	if len(frows) != 2 || !strings.Contains(frows[1].Name, "embedder") {
		t.Errorf("filter rows: %+v", frows)
	}
}
