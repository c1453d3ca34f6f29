package index

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/genos-project/genos/core/rank"
	"golang.org/x/sync/errgroup"
)

// Mode selects which ranked lists a search uses.
type Mode int

// The search modes.
const (
	// ModeHybrid fuses BM25 and vector results (BM25 alone when the query
	// has no vector or the index none).
	ModeHybrid Mode = iota
	// ModeBM25 uses FTS5 BM25 only.
	ModeBM25
	// ModeVector uses vector similarity only (no hits without a query
	// vector or without vectors in the index).
	ModeVector
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case ModeHybrid:
		return "hybrid"
	case ModeBM25:
		return "bm25"
	case ModeVector:
		return "vector"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Query is one search.
type Query struct {
	// Text is the query text for BM25.
	Text string
	// Vector is the query embedding (any length > 0 matching Dim; it is
	// normalised). Without it the search is BM25 only.
	Vector []float32
	// Mode selects the ranked lists; the zero value is ModeHybrid.
	Mode Mode
	// Limit is the maximum number of hits; 0 means DefaultLimit.
	Limit int
	// MinScore drops hits whose final Score (0..1) is below it.
	MinScore float64
	// MinCosine drops hits found only by vector similarity whose cosine is
	// below it (0 = no gate): a vector list always returns its nearest
	// neighbours, however far they are.
	MinCosine float64
	// HalfLife applies recency decay on Doc.Time (0 = off).
	HalfLife time.Duration
	// MMRLambda, when > 0, reorders the candidates by maximal marginal
	// relevance with this lambda (1 = relevance only, lower = more diverse).
	MMRLambda float64
	// Now is the reference time for decay; zero means time.Now().
	Now time.Time
}

// Hit is one search result.
type Hit struct {
	// ID, Source and Text are the document's.
	ID     int64
	Source string
	Text   string
	// Score is the final score in 0..1: the document's reciprocal rank
	// fusion score divided by the best possible one over the lists used
	// (rank 1 in each), times the recency decay. A document first in both
	// BM25 and vector lists scores 1; first in only one of two lists 0.5.
	Score float64
	// BM25 is FTS5's bm25() for the document negated so higher is better
	// (0 if BM25 did not return it).
	BM25 float64
	// Cosine is the cosine similarity of the document's vector to the query
	// vector (0 if either has none).
	Cosine float32
	// BM25Rank and VecRank are the document's 1-based ranks in the BM25 and
	// vector lists (0 = not in that list).
	BM25Rank, VecRank int
}

// DefaultLimit is the number of hits when Query.Limit is 0.
const DefaultLimit = 5

// Tuning of the candidate lists.
const (
	// candidateDepth is how many candidates each ranked list contributes
	// to fusion.
	candidateDepth = 50
	// postingBudget bounds how many matching documents FTS5 scores per
	// query (see selectTerms). bm25() costs about a microsecond per match
	// here, so 4000 keeps the BM25 half of a search near 4 ms.
	postingBudget = 4000
	// maxCachedTerms bounds the document-frequency cache (see docFreqs).
	maxCachedTerms = 20000
	// maxLimit bounds Query.Limit.
	maxLimit = 1000
)

// Search runs q and returns hits best first (in MMR order when MMRLambda is
// set). An empty query (no terms, no vector) returns no hits.
func (ix *Index) Search(ctx context.Context, q Query) ([]Hit, error) {
	if err := validate(&q); err != nil {
		return nil, fmt.Errorf("search index: %w", err)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return nil, ErrClosed
	}
	var qv []float32
	if q.Vector != nil && q.Mode != ModeBM25 && ix.vecs.dim > 0 {
		if len(q.Vector) != ix.vecs.dim {
			return nil, fmt.Errorf("search index: query vector has %d dimensions, index uses %d", len(q.Vector), ix.vecs.dim)
		}
		var err error
		if qv, err = normalized(make([]float32, len(q.Vector)), q.Vector); err != nil {
			return nil, fmt.Errorf("search index: query %w", err)
		}
	}
	var (
		bm  []scored
		vec []vecHit
	)
	g, gctx := errgroup.WithContext(ctx)
	if q.Mode != ModeVector {
		g.Go(func() (err error) {
			bm, err = ix.bm25(gctx, q.Text, qv != nil)
			return err
		})
	}
	if qv != nil {
		g.Go(func() error {
			vec = ix.vecs.top(qv, candidateDepth)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("search index: %w", err)
	}
	return ix.rankHits(q, qv, bm, vec), nil
}

func validate(q *Query) error {
	switch {
	case q.Mode < ModeHybrid || q.Mode > ModeVector:
		return fmt.Errorf("unknown mode %d", int(q.Mode))
	case q.Limit < 0 || q.Limit > maxLimit:
		return fmt.Errorf("limit %d outside 0..%d", q.Limit, maxLimit)
	case q.MinScore < 0 || q.MinScore > 1 || q.MinScore != q.MinScore:
		return fmt.Errorf("min score %v outside 0..1", q.MinScore)
	case q.MinCosine < -1 || q.MinCosine > 1 || q.MinCosine != q.MinCosine:
		return fmt.Errorf("min cosine %v outside -1..1", q.MinCosine)
	case q.HalfLife < 0:
		return errors.New("half-life is negative")
	case q.MMRLambda < 0 || q.MMRLambda > 1 || q.MMRLambda != q.MMRLambda:
		return fmt.Errorf("mmr lambda %v outside 0..1", q.MMRLambda)
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	return nil
}

// bm25 returns the best candidateDepth BM25 matches over all shards. In a
// hybrid search (hybrid set) terms over the posting budget are skipped, as
// the vector list carries the query; a text-only search keeps at least its
// rarest term.
func (ix *Index) bm25(ctx context.Context, text string, hybrid bool) ([]scored, error) {
	terms := queryTerms(text)
	if len(terms) == 0 || len(ix.docs) == 0 {
		return nil, nil
	}
	df, err := ix.docFreqs(ctx, terms)
	if err != nil {
		return nil, err
	}
	parts := make([][]scored, len(ix.shards))
	expr := ftsQuery(selectTerms(terms, df, postingBudget, !hybrid))
	if expr == "" {
		return nil, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range ix.shards {
		g.Go(func() (err error) {
			parts[i], err = s.match(gctx, expr, candidateDepth)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	all := slices.Concat(parts...)
	slices.SortFunc(all, func(a, b scored) int {
		if c := cmp.Compare(b.bm25, a.bm25); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return all[:min(len(all), candidateDepth)], nil
}

// docFreqs returns each term's number of matching documents over all shards,
// counted up to postingBudget+1 per shard (enough to tell it is over
// budget). Counts are cached until the next Add or Remove: the same common
// words recur in most messages.
func (ix *Index) docFreqs(ctx context.Context, terms []string) (map[string]int, error) {
	df := make(map[string]int, len(terms))
	var missing []string
	ix.dfMu.Lock()
	for _, t := range terms {
		if n, ok := ix.dfCache[t]; ok {
			df[t] = n
		} else {
			missing = append(missing, t)
		}
	}
	ix.dfMu.Unlock()
	if len(missing) == 0 {
		return df, nil
	}
	counts := make([][]int, len(ix.shards))
	g, gctx := errgroup.WithContext(ctx)
	for i, s := range ix.shards {
		g.Go(func() error {
			counts[i] = make([]int, len(missing))
			for j, t := range missing {
				n, err := s.countUpTo(gctx, ftsQuery([]string{t}), postingBudget+1)
				if err != nil {
					return err
				}
				counts[i][j] = n
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	ix.dfMu.Lock()
	defer ix.dfMu.Unlock()
	if len(ix.dfCache)+len(missing) > maxCachedTerms {
		clear(ix.dfCache)
	}
	for j, t := range missing {
		for i := range counts {
			df[t] += counts[i][j]
		}
		ix.dfCache[t] = df[t]
	}
	return df, nil
}

// rankHits fuses the lists and applies decay, gates, MMR and the limit.
func (ix *Index) rankHits(q Query, qv []float32, bm []scored, vec []vecHit) []Hit {
	var lists [][]int64
	bmIDs := make([]int64, len(bm))
	bmScore := make(map[int64]float64, len(bm))
	for i, s := range bm {
		bmIDs[i] = s.id
		bmScore[s.id] = s.bm25
	}
	vecIDs := make([]int64, len(vec))
	for i, v := range vec {
		vecIDs[i] = v.id
	}
	bmList, vecList := -1, -1
	if q.Mode != ModeVector {
		bmList = len(lists)
		lists = append(lists, bmIDs)
	}
	if qv != nil {
		vecList = len(lists)
		lists = append(lists, vecIDs)
	}
	fused := rank.RRF(rank.DefaultRRFK, lists...)
	best := rank.RRFMax(rank.DefaultRRFK, len(lists))
	hits := make([]Hit, 0, len(fused))
	for _, f := range fused {
		e := ix.docs[f.ID]
		h := Hit{ID: f.ID, Source: e.source, Text: e.text, Score: f.Score / best, BM25: bmScore[f.ID]}
		if bmList >= 0 {
			h.BM25Rank = f.Ranks[bmList]
		}
		if vecList >= 0 {
			h.VecRank = f.Ranks[vecList]
		}
		if qv != nil && e.vecPos >= 0 {
			h.Cosine = rank.Dot(qv, ix.vecs.at(e.vecPos))
		}
		if q.HalfLife > 0 && !e.time.IsZero() {
			h.Score *= rank.Decay(q.Now.Sub(e.time), q.HalfLife)
		}
		if q.MinCosine != 0 && h.BM25Rank == 0 && float64(h.Cosine) < q.MinCosine {
			continue
		}
		if h.Score < q.MinScore {
			continue
		}
		hits = append(hits, h)
	}
	// Decay changes scores, so restore score order (stable: fusion order
	// breaks ties).
	slices.SortStableFunc(hits, func(a, b Hit) int { return cmp.Compare(b.Score, a.Score) })
	if q.MMRLambda > 0 && len(hits) > 1 {
		hits = ix.mmr(hits, q.MMRLambda, q.Limit)
	}
	return hits[:min(len(hits), q.Limit)]
}

// mmr reorders the top candidates (up to 4x the limit) by maximal marginal
// relevance, comparing documents by their vectors, or by their words when
// one lacks a vector.
func (ix *Index) mmr(hits []Hit, lambda float64, limit int) []Hit {
	pool := hits[:min(len(hits), max(4*limit, 20))]
	cands := make([]rank.Candidate, len(pool))
	byID := make(map[int64]Hit, len(pool))
	for i, h := range pool {
		c := rank.Candidate{ID: h.ID, Score: h.Score, Text: h.Text}
		if e := ix.docs[h.ID]; e.vecPos >= 0 {
			c.Vec = ix.vecs.at(e.vecPos)
		}
		cands[i] = c
		byID[h.ID] = h
	}
	picked := rank.MMR(cands, lambda, limit)
	out := make([]Hit, len(picked))
	for i, c := range picked {
		out[i] = byID[c.ID]
	}
	return out
}
