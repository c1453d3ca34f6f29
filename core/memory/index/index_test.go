package index

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newIndex(t *testing.T, opts Options, docs ...Doc) *Index {
	t.Helper()
	ix, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if err := ix.Add(context.Background(), docs...); err != nil {
		t.Fatal(err)
	}
	return ix
}

func search(t *testing.T, ix *Index, q Query) []Hit {
	t.Helper()
	hits, err := ix.Search(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

func hitIDs(hits []Hit) []int64 {
	out := make([]int64, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

// unit returns a unit vector at angle deg in the plane of the first two
// axes of a 3-dimensional space.
func unit(deg float64) []float32 {
	r := deg * math.Pi / 180
	return []float32{float32(math.Cos(r)), float32(math.Sin(r)), 0}
}

func TestBM25Search(t *testing.T) {
	ix := newIndex(t, Options{},
		Doc{ID: 1, Source: "MEMORY.md", Text: "The user's dentist appointment is on Tuesday at 10."},
		Doc{ID: 2, Source: "memory/2026-11-20.md", Text: "Bought milk, eggs and bread."},
		Doc{ID: 3, Source: "memory/2026-11-21.md", Text: "Dentist called: the dentist moved the appointment to Friday."},
		Doc{ID: 4, Source: "memory/2026-11-22.md", Text: "Café visit with Zoë."},
	)
	if ix.Len() != 4 || ix.Dim() != 0 {
		t.Fatalf("Len, Dim = %d, %d; want 4, 0", ix.Len(), ix.Dim())
	}
	t.Run("ranked by bm25", func(t *testing.T) {
		hits := search(t, ix, Query{Text: "dentist"})
		if diff := cmp.Diff([]int64{3, 1}, hitIDs(hits)); diff != "" {
			t.Fatalf("ids (-want +got):\n%s", diff)
		}
		h := hits[0]
		if h.Score != 1 || h.BM25 <= hits[1].BM25 || h.BM25Rank != 1 || h.VecRank != 0 || h.Cosine != 0 {
			t.Errorf("top hit %+v: want score 1, higher bm25, BM25Rank 1, no vector data", h)
		}
		if h.Source != "memory/2026-11-21.md" || h.Text == "" {
			t.Errorf("top hit source/text not carried: %+v", h)
		}
		if want := (1.0 / 62) / (1.0 / 61); math.Abs(hits[1].Score-want) > 1e-12 {
			t.Errorf("second hit score %v, want %v", hits[1].Score, want)
		}
	})
	t.Run("any term matches", func(t *testing.T) {
		if diff := cmp.Diff([]int64{2, 3}, hitIDs(search(t, ix, Query{Text: "eggs friday"}))); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	})
	t.Run("diacritics folded", func(t *testing.T) {
		if diff := cmp.Diff([]int64{4}, hitIDs(search(t, ix, Query{Text: "cafe zoe"}))); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	})
	t.Run("limit", func(t *testing.T) {
		if got := search(t, ix, Query{Text: "dentist eggs", Limit: 1}); len(got) != 1 {
			t.Errorf("got %d hits, want 1", len(got))
		}
	})
	t.Run("no terms no hits", func(t *testing.T) {
		if got := search(t, ix, Query{Text: " ,.;"}); len(got) != 0 {
			t.Errorf("got %v, want none", got)
		}
	})
	t.Run("vector mode without vectors", func(t *testing.T) {
		if got := search(t, ix, Query{Text: "dentist", Mode: ModeVector, Vector: unit(0)}); len(got) != 0 {
			t.Errorf("got %v, want none", got)
		}
	})
	t.Run("query vector ignored without index vectors", func(t *testing.T) {
		if diff := cmp.Diff([]int64{3, 1}, hitIDs(search(t, ix, Query{Text: "dentist", Vector: unit(0)}))); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	})
}

func TestHybridFusionAndGates(t *testing.T) {
	// Query: text "alpha", vector at 0 degrees.
	// Doc 1: text match, vector at 10 (vector rank 1): first in both lists.
	// Doc 2: text match only (weaker), vector at 80.
	// Doc 3: no text match, vector at 30 (vector rank 2).
	// Doc 4: no text match, vector at 170 (cosine -0.98, vector rank 4).
	ix := newIndex(t, Options{},
		Doc{ID: 1, Text: "alpha alpha beta", Vector: unit(10)},
		Doc{ID: 2, Text: "alpha gamma delta epsilon zeta eta theta", Vector: unit(80)},
		Doc{ID: 3, Text: "unrelated words", Vector: unit(30)},
		Doc{ID: 4, Text: "other things", Vector: unit(170)},
	)
	q := Query{Text: "alpha", Vector: unit(0), Limit: 10}
	hits := search(t, ix, q)
	if diff := cmp.Diff([]int64{1, 2, 3, 4}, hitIDs(hits)); diff != "" {
		t.Fatalf("ids (-want +got):\n%s", diff)
	}
	want := []struct {
		score          float64
		bmRank, vecRnk int
	}{
		{1, 1, 1},
		{(1.0/62 + 1.0/63) / (2.0 / 61), 2, 3},
		{(1.0 / 62) / (2.0 / 61), 0, 2},
		{(1.0 / 64) / (2.0 / 61), 0, 4},
	}
	for i, w := range want {
		h := hits[i]
		if math.Abs(h.Score-w.score) > 1e-9 || h.BM25Rank != w.bmRank || h.VecRank != w.vecRnk {
			t.Errorf("hit %d = score %v ranks %d/%d, want %v %d/%d", h.ID, h.Score, h.BM25Rank, h.VecRank, w.score, w.bmRank, w.vecRnk)
		}
	}
	if c := hits[0].Cosine; math.Abs(float64(c)-math.Cos(10*math.Pi/180)) > 1e-6 {
		t.Errorf("doc 1 cosine %v", c)
	}
	if hits[1].BM25 <= 0 || hits[2].BM25 != 0 {
		t.Errorf("bm25 scores %v, %v: want positive for a text match, 0 otherwise", hits[1].BM25, hits[2].BM25)
	}

	t.Run("min cosine drops vector-only hits only", func(t *testing.T) {
		q := q
		q.MinCosine = 0.5 // doc 2 (cos 0.17) stays: BM25 found it; doc 4 goes.
		if diff := cmp.Diff([]int64{1, 2, 3}, hitIDs(search(t, ix, q))); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
		q.MinCosine = 0.9 // doc 3 (cos 0.87) goes too
		if diff := cmp.Diff([]int64{1, 2}, hitIDs(search(t, ix, q))); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	})
	t.Run("min score", func(t *testing.T) {
		q := q
		q.MinScore = 0.5
		if diff := cmp.Diff([]int64{1, 2}, hitIDs(search(t, ix, q))); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
		q.MinScore = 1
		if diff := cmp.Diff([]int64{1}, hitIDs(search(t, ix, q))); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	})
	t.Run("bm25 mode ignores vectors", func(t *testing.T) {
		q := q
		q.Mode = ModeBM25
		hits := search(t, ix, q)
		if diff := cmp.Diff([]int64{1, 2}, hitIDs(hits)); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
		if hits[0].Score != 1 || hits[0].VecRank != 0 || hits[0].Cosine != 0 {
			t.Errorf("top hit %+v", hits[0])
		}
	})
	t.Run("vector mode ignores text", func(t *testing.T) {
		q := q
		q.Mode = ModeVector
		hits := search(t, ix, q)
		if diff := cmp.Diff([]int64{1, 3, 2, 4}, hitIDs(hits)); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
		if hits[0].Score != 1 || hits[0].BM25Rank != 0 {
			t.Errorf("top hit %+v", hits[0])
		}
		q.MinCosine = 0.5 // every hit is vector-only here
		if diff := cmp.Diff([]int64{1, 3}, hitIDs(search(t, ix, q))); diff != "" {
			t.Errorf("gated ids (-want +got):\n%s", diff)
		}
	})
	t.Run("query vector is normalised", func(t *testing.T) {
		q := q
		q.Vector = []float32{5, 0, 0}
		if got := search(t, ix, q)[0].Cosine; math.Abs(float64(got)-math.Cos(10*math.Pi/180)) > 1e-6 {
			t.Errorf("cosine %v with a non-unit query vector", got)
		}
		if q.Vector[0] != 5 {
			t.Errorf("caller's vector modified: %v", q.Vector)
		}
	})
}

func TestDecay(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ix := newIndex(t, Options{},
		Doc{ID: 1, Text: "standup notes", Time: now.Add(-60 * day)},
		Doc{ID: 2, Text: "standup notes", Time: now.Add(-1 * day)},
		Doc{ID: 3, Text: "standup notes"}, // evergreen
	)
	q := Query{Text: "standup", Now: now}
	t.Run("off", func(t *testing.T) {
		// Equal BM25: fusion order falls back to ID.
		if diff := cmp.Diff([]int64{1, 2, 3}, hitIDs(search(t, ix, q))); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	})
	t.Run("on", func(t *testing.T) {
		q := q
		q.HalfLife = 30 * day
		hits := search(t, ix, q)
		if diff := cmp.Diff([]int64{3, 2, 1}, hitIDs(hits)); diff != "" {
			t.Fatalf("ids (-want +got):\n%s", diff)
		}
		// Doc 1 had fused rank 1 (score 1) and is two half-lives old.
		if math.Abs(hits[2].Score-0.25) > 1e-9 {
			t.Errorf("doc 1 score %v, want 0.25", hits[2].Score)
		}
		// Doc 3 (rank 3) never decays.
		if want := (1.0 / 63) / (1.0 / 61); math.Abs(hits[0].Score-want) > 1e-9 {
			t.Errorf("doc 3 score %v, want %v", hits[0].Score, want)
		}
	})
	t.Run("gate applies after decay", func(t *testing.T) {
		q := q
		q.HalfLife = 30 * day
		q.MinScore = 0.5
		if diff := cmp.Diff([]int64{3, 2}, hitIDs(search(t, ix, q))); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	})
}

func TestMMR(t *testing.T) {
	// Docs 1 and 2 are near duplicates; 3 is different but less relevant.
	ix := newIndex(t, Options{},
		Doc{ID: 1, Text: "x", Vector: unit(0)},
		Doc{ID: 2, Text: "y", Vector: unit(2)},
		Doc{ID: 3, Text: "z", Vector: unit(60)},
	)
	q := Query{Vector: unit(0), Mode: ModeVector, Limit: 2}
	if diff := cmp.Diff([]int64{1, 2}, hitIDs(search(t, ix, q))); diff != "" {
		t.Errorf("without MMR (-want +got):\n%s", diff)
	}
	q.MMRLambda = 0.5
	if diff := cmp.Diff([]int64{1, 3}, hitIDs(search(t, ix, q))); diff != "" {
		t.Errorf("with MMR (-want +got):\n%s", diff)
	}
	t.Run("text fallback without vectors", func(t *testing.T) {
		ix := newIndex(t, Options{},
			Doc{ID: 1, Text: "tax return deadline april tax"},
			Doc{ID: 2, Text: "tax return deadline april"},
			Doc{ID: 3, Text: "tax office phone number and opening hours downtown"},
		)
		q := Query{Text: "tax", Limit: 2}
		if diff := cmp.Diff([]int64{1, 2}, hitIDs(search(t, ix, q))); diff != "" {
			t.Errorf("without MMR (-want +got):\n%s", diff)
		}
		q.MMRLambda = 0.5
		if diff := cmp.Diff([]int64{1, 3}, hitIDs(search(t, ix, q))); diff != "" {
			t.Errorf("with MMR (-want +got):\n%s", diff)
		}
	})
}

func TestReplaceAndRemove(t *testing.T) {
	ctx := context.Background()
	for _, shards := range []int{1, 3} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			var docs []Doc
			for i := range 30 {
				docs = append(docs, Doc{ID: int64(i + 1), Text: fmt.Sprintf("note number%d common", i+1), Vector: unit(float64(i * 3))})
			}
			ix := newIndex(t, Options{Shards: shards}, docs...)
			if ix.Len() != 30 || ix.Dim() != 3 {
				t.Fatalf("Len, Dim = %d, %d", ix.Len(), ix.Dim())
			}
			// Replace doc 5: new text, new vector.
			if err := ix.Add(ctx, Doc{ID: 5, Text: "replaced pineapple", Vector: unit(200)}); err != nil {
				t.Fatal(err)
			}
			if ix.Len() != 30 {
				t.Errorf("Len after replace = %d", ix.Len())
			}
			if got := search(t, ix, Query{Text: "number5"}); len(got) != 0 {
				t.Errorf("old text still matches: %v", hitIDs(got))
			}
			if diff := cmp.Diff([]int64{5}, hitIDs(search(t, ix, Query{Text: "pineapple"}))); diff != "" {
				t.Errorf("new text (-want +got):\n%s", diff)
			}
			if got := search(t, ix, Query{Vector: unit(200), Mode: ModeVector, Limit: 1}); got[0].ID != 5 || got[0].Cosine < 0.999 {
				t.Errorf("new vector: %+v", got[0])
			}
			// Remove a middle doc and the last-added one; the moved vectors
			// must still belong to the right docs.
			if err := ix.Remove(ctx, 10, 30, 999); err != nil {
				t.Fatal(err)
			}
			if ix.Len() != 28 {
				t.Errorf("Len after remove = %d", ix.Len())
			}
			for _, id := range []int64{10, 30} {
				if got := search(t, ix, Query{Text: fmt.Sprintf("number%d", id)}); len(got) != 0 {
					t.Errorf("removed doc %d still matches text", id)
				}
			}
			for i := 1; i <= 29; i++ {
				if i == 5 || i == 10 {
					continue
				}
				got := search(t, ix, Query{Vector: unit(float64((i - 1) * 3)), Mode: ModeVector, Limit: 1})
				if got[0].ID != int64(i) || got[0].Cosine < 0.9999 {
					t.Errorf("vector of doc %d found %+v", i, got[0])
				}
			}
			// Replacing with no vector drops the vector.
			if err := ix.Add(ctx, Doc{ID: 7, Text: "no vector now"}); err != nil {
				t.Fatal(err)
			}
			for _, h := range search(t, ix, Query{Vector: unit(18), Mode: ModeVector, Limit: 50}) {
				if h.ID == 7 {
					t.Errorf("doc 7 still has a vector")
				}
			}
			// Last doc in a batch wins.
			if err := ix.Add(ctx, Doc{ID: 8, Text: "first kiwi"}, Doc{ID: 8, Text: "second mango"}); err != nil {
				t.Fatal(err)
			}
			if got := search(t, ix, Query{Text: "kiwi mango"}); len(got) != 1 || got[0].Text != "second mango" {
				t.Errorf("duplicate ids in a batch: %+v", got)
			}
			// Removing everything resets the vector dimension.
			var all []int64
			for i := 1; i <= 30; i++ {
				all = append(all, int64(i))
			}
			if err := ix.Remove(ctx, all...); err != nil {
				t.Fatal(err)
			}
			if ix.Len() != 0 || ix.Dim() != 0 {
				t.Errorf("Len, Dim after removing all = %d, %d", ix.Len(), ix.Dim())
			}
			if got := search(t, ix, Query{Text: "common"}); len(got) != 0 {
				t.Errorf("empty index returned %v", hitIDs(got))
			}
		})
	}
}

func TestAutoShards(t *testing.T) {
	if testing.Short() {
		t.Skip("bulk load")
	}
	docs := make([]Doc, AutoShardMin)
	for i := range docs {
		docs[i] = Doc{ID: int64(i + 1), Text: fmt.Sprintf("w%d shared", i%500)}
	}
	ix := newIndex(t, Options{}, docs...)
	ix.mu.RLock()
	n := len(ix.shards)
	ix.mu.RUnlock()
	if want := min(maxAutoShards, max(1, runtimeProcs())); n != want {
		t.Errorf("shards = %d, want %d", n, want)
	}
	hits := search(t, ix, Query{Text: "w7", Limit: 100})
	if len(hits) != AutoShardMin/500 {
		t.Errorf("got %d hits for w7, want %d", len(hits), AutoShardMin/500)
	}
	for _, h := range hits {
		if (h.ID-1)%500 != 7 {
			t.Errorf("hit %d does not contain w7", h.ID)
		}
	}
}

func TestValidation(t *testing.T) {
	ctx := context.Background()
	ix := newIndex(t, Options{}, Doc{ID: 1, Text: "a", Vector: []float32{1, 0}})
	addErrs := []struct {
		name string
		doc  Doc
	}{
		{"dimension mismatch", Doc{ID: 2, Vector: []float32{1, 0, 0}}},
		{"nan", Doc{ID: 2, Vector: []float32{float32(math.NaN()), 1}}},
		{"inf", Doc{ID: 2, Vector: []float32{float32(math.Inf(1)), 1}}},
		{"zero", Doc{ID: 2, Vector: []float32{0, 0}}},
		{"empty", Doc{ID: 2, Vector: []float32{}}},
	}
	for _, tt := range addErrs {
		t.Run("add "+tt.name, func(t *testing.T) {
			if err := ix.Add(ctx, Doc{ID: 3, Text: "valid"}, tt.doc); err == nil {
				t.Fatal("Add succeeded")
			}
			if ix.Len() != 1 {
				t.Errorf("failed Add changed the index: Len %d", ix.Len())
			}
		})
	}
	queryErrs := []struct {
		name string
		q    Query
	}{
		{"vector dimension", Query{Vector: []float32{1, 0, 0}}},
		{"zero vector", Query{Vector: []float32{0, 0}}},
		{"mode", Query{Mode: 9}},
		{"negative limit", Query{Limit: -1}},
		{"huge limit", Query{Limit: maxLimit + 1}},
		{"min score", Query{MinScore: 1.5}},
		{"min score nan", Query{MinScore: math.NaN()}},
		{"min cosine", Query{MinCosine: 2}},
		{"half-life", Query{HalfLife: -time.Second}},
		{"lambda", Query{MMRLambda: 1.5}},
	}
	for _, tt := range queryErrs {
		t.Run("search "+tt.name, func(t *testing.T) {
			if _, err := ix.Search(ctx, tt.q); err == nil {
				t.Error("Search succeeded")
			}
		})
	}
	if _, err := New(Options{Shards: -1}); err == nil {
		t.Error("New with negative shards succeeded")
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	ix := newIndex(t, Options{}, Doc{ID: 1, Text: "secret", Vector: []float32{1, 0}})
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := ix.Search(ctx, Query{Text: "secret"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Search after Close: %v", err)
	}
	if err := ix.Add(ctx, Doc{ID: 2}); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if err := ix.Remove(ctx, 1); !errors.Is(err, ErrClosed) {
		t.Errorf("Remove after Close: %v", err)
	}
	if ix.Len() != 0 || ix.Dim() != 0 {
		t.Errorf("Len, Dim after Close = %d, %d", ix.Len(), ix.Dim())
	}
}

func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	ix := newIndex(t, Options{Shards: 2})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				id := int64(w*1000 + i)
				if err := ix.Add(ctx, Doc{ID: id, Text: fmt.Sprintf("doc %d shared", id), Vector: unit(float64(i))}); err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					if err := ix.Remove(ctx, id); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
		wg.Go(func() {
			for range 50 {
				if _, err := ix.Search(ctx, Query{Text: "shared doc", Vector: unit(10), MMRLambda: 0.7}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if ix.Len() != 4*40 {
		t.Errorf("Len = %d, want %d", ix.Len(), 4*40)
	}
}
