package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/genos-project/genos/core/memory/index"
	"github.com/genos-project/genos/core/tokens"
)

// The scale rows time the in-memory index (core/memory/index) at 10k and
// 100k chunks. Real notes of that volume do not exist, so the chunks are
// synthetic: sentences of the labelled set recombined at random, which
// keeps a realistic vocabulary and term distribution, with random 384-dim
// unit vectors that are for timing only (they mean nothing).

// Bounds of the scale rows.
const (
	scaleSearchMax    = 2000            // timed searches per size at most
	scaleSearchBudget = 4 * time.Second // per size
	scaleWarmup       = 50              // untimed searches first
	minChunkSentences = 3
	maxChunkSentences = 8
	synthSeed         = 20261125
)

// searchTarget is the target for search p99 at 100k chunks.
const searchTarget = 20 * time.Millisecond

// datasetSentences returns the sentences and list items of every note of
// the set (headings dropped), the material of the synthetic chunks.
func datasetSentences(notesDir string) ([]string, error) {
	var files []string
	if err := filepath.WalkDir(notesDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	}); err != nil {
		return nil, fmt.Errorf("list notes: %w", err)
	}
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			ln := strings.TrimSpace(sc.Text())
			if ln == "" || strings.HasPrefix(ln, "#") {
				continue
			}
			out = append(out, splitSentences(ln)...)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no sentences under %s", notesDir)
	}
	return out, nil
}

// splitSentences cuts a line after ". ", "! " and "? ".
func splitSentences(ln string) []string {
	var out []string
	for ln != "" {
		i := strings.IndexAny(ln, ".!?")
		for i >= 0 && i+1 < len(ln) && ln[i+1] != ' ' {
			j := strings.IndexAny(ln[i+1:], ".!?")
			if j < 0 {
				i = -1
				break
			}
			i += 1 + j
		}
		if i < 0 || i+1 >= len(ln) {
			out = append(out, ln)
			break
		}
		out = append(out, ln[:i+1])
		ln = strings.TrimSpace(ln[i+1:])
	}
	return out
}

// synthChunks returns n chunk texts of 3 to 8 random sentences each, the
// same on every run.
func synthChunks(sents []string, n int) []string {
	r := rand.New(rand.NewPCG(synthSeed, 1))
	out := make([]string, n)
	var b strings.Builder
	for i := range out {
		b.Reset()
		k := minChunkSentences + r.IntN(maxChunkSentences-minChunkSentences+1)
		for j := range k {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(sents[r.IntN(len(sents))])
		}
		out[i] = b.String()
	}
	return out
}

// synthVectors returns n random unit vectors (timing only).
func synthVectors(n int, seed uint64) [][]float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	out := make([][]float32, n)
	for i := range out {
		out[i] = randomUnit(r, timingDims)
	}
	return out
}

// chunkDate spreads synthetic chunks over the two years of the set, so
// recency decay has real work to do.
func chunkDate(i int) time.Time {
	return time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC).AddDate(0, 0, i%700)
}

// meanTokens is the mean tokens.Estimate of texts.
func meanTokens(texts []string) float64 {
	if len(texts) == 0 {
		return 0
	}
	n := 0
	for _, t := range texts {
		n += tokens.Estimate(t)
	}
	return float64(n) / float64(len(texts))
}

// fullChunkTokens bounds the full-size synthetic chunks: just under the
// chunker's 400-token target, so a "## Entry" section of one such text
// stays one chunk when the unlock rows write it as a note.
const (
	fullChunkTokens    = 394
	fullChunkMinTokens = 385
	fullChunkTries     = 24
)

// fullChunks returns n chunk texts of about fullChunkTokens tokens each,
// made of random labelled-set chunks (texts) joined, the same on every run
// (the first n of a longer list are the same n). They are the worst case
// for an unlock: every chunk as large as the chunker makes them.
func fullChunks(texts []string, n int) []string {
	r := rand.New(rand.NewPCG(synthSeed, 3))
	out := make([]string, n)
	var b strings.Builder
	for i := range out {
		b.Reset()
		tok := 0
		for tries := 0; tok < fullChunkMinTokens && tries < fullChunkTries; tries++ {
			t := texts[r.IntN(len(texts))]
			k := tokens.Estimate(t)
			if tok > 0 && tok+k > fullChunkTokens {
				continue
			}
			if tok > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(t)
			tok += k
		}
		out[i] = b.String()
	}
	return out
}

// chunkSet is one of the two synthetic chunk sizes.
type chunkSet struct {
	// what describes the chunks in row names: "≈85-token chunks".
	what string
	// how says how they were made, for the rows' commands.
	how string
	tok float64
}

// labelledSet and fullSet describe texts (the labelled-set chunks, or
// fullChunks of them) for the rows.
func labelledSet(texts []string) chunkSet {
	tok := meanTokens(texts[:min(len(texts), 5000)])
	return chunkSet{what: fmt.Sprintf("≈%.0f-token chunks", tok), tok: tok,
		how: fmt.Sprintf("3–8 random sentences of %s each (≈%.0f tokens on average, like real daily notes)", retrievalDir, tok)}
}

func fullSet(texts []string) chunkSet {
	tok := meanTokens(texts[:min(len(texts), 5000)])
	return chunkSet{what: fmt.Sprintf("≈%.0f-token chunks", tok), tok: tok,
		how: fmt.Sprintf("random labelled-set chunks joined up to %d tokens each (≈%.0f on average: the chunker's 400-token target, the worst case)", fullChunkTokens, tok)}
}

// scaleResult is one index size measured, for both chunk sizes.
type scaleResult struct {
	n     int
	parts []scalePart
}

// scalePart is one index size and chunk size measured.
type scalePart struct {
	set      chunkSet
	build    time.Duration
	heap     uint64 // Go heap growth from building the index (after GC)
	searches []time.Duration
}

// searchLoad is the queries the timed searches cycle through.
type searchLoad struct {
	texts []string
	vecs  [][]float32 // timing only
}

// measureIndexScale builds a fresh index of the first n synthetic chunks in
// one bulk Add (as core/memory does at unlock) and times hybrid searches,
// once with the labelled-set chunks (texts) and once with full-size chunks
// made of them.
func measureIndexScale(ctx context.Context, texts []string, vecs [][]float32, n int, load searchLoad) (scaleResult, error) {
	res := scaleResult{n: n}
	full := fullChunks(texts, n)
	for _, c := range []struct {
		texts []string
		set   chunkSet
	}{{texts[:n], labelledSet(texts)}, {full, fullSet(full)}} {
		p, err := measureIndexPart(ctx, c.texts, vecs, load)
		if err != nil {
			return res, fmt.Errorf("%s: %w", c.set.what, err)
		}
		p.set = c.set
		res.parts = append(res.parts, p)
	}
	return res, nil
}

// measureIndexPart indexes texts (one per chunk) and times searches.
func measureIndexPart(ctx context.Context, texts []string, vecs [][]float32, load searchLoad) (scalePart, error) {
	var res scalePart
	n := len(texts)
	docs := make([]index.Doc, n)
	for i := range docs {
		docs[i] = index.Doc{ID: int64(i + 1), Source: fmt.Sprintf("memory/synthetic-%06d.md", i), Text: texts[i], Vector: vecs[i], Time: chunkDate(i)}
	}
	before := heapInUse()
	ix, err := index.New(index.Options{})
	if err != nil {
		return res, err
	}
	defer ix.Close()
	t0 := time.Now()
	if err := ix.Add(ctx, docs...); err != nil {
		return res, fmt.Errorf("index %d chunks: %w", n, err)
	}
	res.build = time.Since(t0)
	docs = nil
	if after := heapInUse(); after > before {
		res.heap = after - before
	}
	q := func(i int) index.Query {
		return index.Query{
			Text: load.texts[i%len(load.texts)], Vector: load.vecs[i%len(load.vecs)], Mode: index.ModeHybrid,
			Limit: 5, HalfLife: 30 * 24 * time.Hour, MMRLambda: 0.7, Now: evalNow,
		}
	}
	for i := range scaleWarmup {
		if _, err := ix.Search(ctx, q(i)); err != nil {
			return res, fmt.Errorf("search: %w", err)
		}
	}
	res.searches, err = timeEach(ctx, scaleSearchMax, scaleSearchBudget, func(i int) error {
		_, err := ix.Search(ctx, q(i))
		return err
	})
	if err != nil {
		return res, fmt.Errorf("search: %w", err)
	}
	return res, nil
}

// heapInUse returns the live Go heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// scaleRows turns index measurements into table rows. tokPerChunk and
// queries are kept for the caller's signature: each part carries its own
// token count.
func scaleRows(rs []scaleResult, _ float64, queries int) []row {
	var rows []row
	for _, r := range rs {
		for _, p := range r.parts {
			s := summarize(p.searches)
			cmd := fmt.Sprintf("in process, core/memory/index: index.New + one bulk Add of %d synthetic chunks (%s) with random 384-dim unit vectors (timing only, meaningless), FTS5 in private in-memory SQLite",
				r.n, p.set.how)
			rows = append(rows, row{
				Name:    fmt.Sprintf("memory index build, %s %s", fmtCount(r.n), p.set.what),
				Value:   fmt.Sprintf("%.0f chunks/s (%s; Go heap +%s)", float64(r.n)/p.build.Seconds(), fmtDur(p.build), fmtMiB(int64(p.heap))),
				Command: cmd,
			})
			sr := row{
				Name:  fmt.Sprintf("memory search p50 / p99, hybrid, %s %s", fmtCount(r.n), p.set.what),
				Value: fmt.Sprintf("%s / %s (max %s, n=%d)", fmtShortDur(s.P50), fmtShortDur(s.P99), fmtShortDur(s.Max), s.N),
				Command: fmt.Sprintf("same index: Index.Search back to back (at most %d or %s, after %d untimed), mode hybrid (BM25 + cosine, RRF k=60), limit 5, 30-day half-life, MMR λ 0.7; the %d labelled query texts in turn, each with a random 384-dim vector (timing only)",
					scaleSearchMax, scaleSearchBudget, scaleWarmup, queries),
			}
			if r.n >= 100_000 {
				sr.Target = "p99 < " + fmtDur(searchTarget)
				sr.Verdict = judge(s.P99 < searchTarget)
			}
			rows = append(rows, sr)
		}
	}
	return rows
}

// fmtCount renders 10000 as "10k" and 100000 as "100k".
func fmtCount(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
