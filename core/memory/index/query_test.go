package index

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/genos-project/genos/core/rank"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestFTSQuery(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"  !!  ", ""},
		{"hello", `"hello"`},
		{"Hello world hello", `"hello" OR "world"`},
		{`foo" OR NOT bar`, `"foo" OR "or" OR "not" OR "bar"`},
		{"NEAR(a b, 2)", `"near" OR "a" OR "b" OR "2"`},
		{"text:secret*", `"text" OR "secret"`},
		{"^start -x +y", `"start" OR "x" OR "y"`},
		{"café Zoë", `"café" OR "zoë"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := ftsQuery(queryTerms(tt.in)); got != tt.want {
				t.Errorf("ftsQuery(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
	t.Run("quotes doubled", func(t *testing.T) {
		if got, want := ftsQuery([]string{`a"b`, ""}), `"a""b"`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})
	t.Run("term cap", func(t *testing.T) {
		var words []string
		for i := range 100 {
			words = append(words, "w"+strings.Repeat("x", i))
		}
		if got := len(queryTerms(strings.Join(words, " "))); got != maxQueryTerms {
			t.Errorf("got %d terms, want %d", got, maxQueryTerms)
		}
	})
}

// TestHostileQueriesMatchLiterally runs FTS5 syntax through a real shard:
// no error, and only documents holding the words literally match.
func TestHostileQueriesMatchLiterally(t *testing.T) {
	ix := newIndex(t, Options{},
		Doc{ID: 1, Text: "near the river"},
		Doc{ID: 2, Text: "text column secret"},
		Doc{ID: 3, Text: "nothing relevant here"},
	)
	tests := []struct {
		q    string
		want []int64
	}{
		{`NEAR(river the)`, []int64{1}},
		{`text:secret`, []int64{2}},
		{`"unbalanced`, nil},
		{`secret*`, []int64{2}},
		{`NOT river`, []int64{1}},
		{`) OR ( column`, []int64{2}},
		{`{text} : col`, []int64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) {
			hits, err := ix.Search(context.Background(), Query{Text: tt.q, Mode: ModeBM25})
			if err != nil {
				t.Fatal(err)
			}
			got := hitIDs(hits)
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSelectTerms(t *testing.T) {
	df := map[string]int{"the": 9000, "meeting": 3000, "dentist": 40, "zorb": 0}
	tests := []struct {
		name    string
		terms   []string
		budget  int
		keepOne bool
		want    []string
	}{
		{"all fit", []string{"the", "dentist"}, 10000, false, []string{"dentist", "the"}},
		{"rarest first within budget", []string{"the", "meeting", "dentist"}, 5000, false, []string{"dentist", "meeting"}},
		{"terms matching nothing are free", []string{"unknown", "the", "zorb"}, 100, false, []string{"unknown", "zorb"}},
		{"none fit", []string{"the", "meeting"}, 100, false, nil},
		{"none fit keep one", []string{"the", "meeting"}, 100, true, []string{"meeting"}},
		{"empty", nil, 100, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, selectTerms(tt.terms, df, tt.budget, tt.keepOne)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestBudgetDropsCommonTermsInHybrid checks the posting budget end to end:
// in a hybrid search a term found in more documents than the budget is not
// scored, while a text-only search keeps it.
func TestBudgetDropsCommonTermsInHybrid(t *testing.T) {
	docs := make([]Doc, postingBudget+10)
	for i := range docs {
		docs[i] = Doc{ID: int64(i + 1), Text: "common", Vector: unit(float64(i % 90))}
	}
	ix := newIndex(t, Options{Shards: 1}, docs...)
	ctx := context.Background()
	hybrid, err := ix.Search(ctx, Query{Text: "common", Vector: unit(0), Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hybrid {
		if h.BM25Rank != 0 {
			t.Errorf("hybrid hit %d has BM25 rank %d; the over-budget term should be skipped", h.ID, h.BM25Rank)
		}
	}
	text, err := ix.Search(ctx, Query{Text: "common", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(text) != 3 || text[0].BM25Rank != 1 {
		t.Errorf("text-only search: %+v, want 3 BM25 hits", text)
	}
}

func TestVectorTopMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	const n, dim, k = 3*parallelMin + 17, 16, 25
	var v vectors
	all := make([]vecHit, 0, n)
	q := randUnit(r, dim)
	for i := range n {
		vec := randUnit(r, dim)
		pos := v.add(int64(n-i), vec) // IDs descending so ID order differs from slot order
		all = append(all, vecHit{id: int64(n - i), pos: pos, cos: dot(q, vec)})
	}
	slices.SortFunc(all, byCosine)
	if diff := cmp.Diff(all[:k], v.top(q, k), cmp.AllowUnexported(vecHit{})); diff != "" {
		t.Errorf("top mismatch (-want +got):\n%s", diff)
	}
	if got := v.top(q, 0); got != nil {
		t.Errorf("top(0) = %v", got)
	}
	if got := len(v.top(q, n+5)); got != n {
		t.Errorf("top(n+5) returned %d, want %d", got, n)
	}
}

func randUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return rank.Normalize(v)
}

// FuzzFTSQuery feeds arbitrary text through the query conversion and a real
// FTS5 MATCH: the expression must always parse, contain only quoted terms,
// and never error.
func FuzzFTSQuery(f *testing.F) {
	for _, s := range []string{"", "hello world", `"`, `a" OR "b`, "NEAR(a b)", "col:x*", "^x", "\x00\xff", "e\u0301", "\u0301", "日本語", "AND OR NOT", "(((", "a''b"} {
		f.Add(s)
	}
	sh, err := openShard()
	if err != nil {
		f.Fatal(err)
	}
	defer closeShards([]*shard{sh})
	ctx := context.Background()
	tx, err := sh.begin(ctx)
	if err != nil {
		f.Fatal(err)
	}
	if err := tx.insert(ctx, []Doc{{ID: 1, Text: "hello world near column"}, {ID: 2, Text: "日本語 e\u0301 café"}}); err != nil {
		f.Fatal(err)
	}
	if err := tx.commit(); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		expr := ftsQuery(queryTerms(s))
		if expr == "" {
			return
		}
		if !utf8.ValidString(expr) {
			t.Fatalf("invalid UTF-8 expression %q", expr)
		}
		for _, part := range strings.Split(expr, " OR ") {
			inner := part[1 : len(part)-1]
			if part[0] != '"' || part[len(part)-1] != '"' || strings.Contains(strings.ReplaceAll(inner, `""`, ""), `"`) {
				t.Fatalf("term %q of %q is not a closed string literal", part, expr)
			}
		}
		if _, err := sh.match(ctx, expr, 5); err != nil {
			t.Fatalf("match %q (from %q): %v", expr, s, err)
		}
	})
}

// TestQuantisedScanAfterChanges exercises the int8 slab bookkeeping (set,
// swap-remove) on an index large enough for the quantised scan: every
// remaining doc's own vector must find that doc first.
func TestQuantisedScanAfterChanges(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 9))
	const n = 2 * parallelMin
	docs := make([]Doc, n)
	for i := range docs {
		docs[i] = Doc{ID: int64(i + 1), Text: "x", Vector: randUnit(r, 32)}
	}
	ix := newIndex(t, Options{Shards: 1}, docs...)
	var removed []int64
	for i := int64(1); i <= n; i += 7 {
		removed = append(removed, i)
	}
	if err := ix.Remove(ctx, removed...); err != nil {
		t.Fatal(err)
	}
	replaced := map[int64][]float32{}
	for i := int64(3); i <= n; i += 11 {
		if (i-1)%7 == 0 {
			continue
		}
		replaced[i] = randUnit(r, 32)
		if err := ix.Add(ctx, Doc{ID: i, Text: "y", Vector: replaced[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if ix.Len() < parallelMin {
		t.Fatalf("index shrank below the quantised-scan size: %d", ix.Len())
	}
	for i := int64(1); i <= n; i += 13 {
		if (i-1)%7 == 0 {
			continue
		}
		v := docs[i-1].Vector
		if rv, ok := replaced[i]; ok {
			v = rv
		}
		hits := search(t, ix, Query{Vector: v, Mode: ModeVector, Limit: 1})
		if len(hits) != 1 || hits[0].ID != i || hits[0].Cosine < 0.9999 {
			t.Errorf("doc %d: got %+v", i, hits)
		}
	}
}
