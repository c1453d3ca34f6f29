package tools

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"

	"github.com/genos-project/genos/core/rank"
	"github.com/genos-project/genos/core/tokens"
)

// DefaultAlwaysTools returns the names of the core tools the filter always
// passes: file access, shell, memory and the config tool. The caller owns the
// returned slice.
func DefaultAlwaysTools() []string {
	return []string{"read", "write", "edit", "exec", "memory_search", "memory_write", "config_manage"}
}

// Filter defaults.
const (
	// DefaultMinCosine is the similarity floor for embeddings. Sentence
	// embedding models (OpenAI text-embedding-3, MiniLM/BGE-class ONNX
	// models) put a short request and the description of a tool that
	// serves it around 0.3 to 0.6, and unrelated pairs around 0.0 to 0.2,
	// so 0.25 errs towards offering a tool.
	DefaultMinCosine = 0.25
	// DefaultMinKeep is how many of the best-ranked non-core tools always
	// pass.
	DefaultMinKeep = 3
	// bm25Relative is the BM25 counterpart of the floor: BM25 scores have no
	// fixed scale, so a tool passes when it matches at least one message
	// word and scores at least this fraction of the best offered tool.
	bm25Relative = 0.5
)

// FilterOptions configures NewFilter.
type FilterOptions struct {
	// Always lists tool names that always pass; nil means
	// DefaultAlwaysTools().
	Always []string
	// MinCosine is the similarity floor: a non-core tool passes when the
	// cosine between its text embedding and the message's is at least this.
	// 0 means DefaultMinCosine; a negative value passes every tool with a
	// vector.
	MinCosine float64
	// MinKeep is how many of the best-ranked non-core tools pass whatever
	// their score, so a plausible tool is never hidden by a floor set too
	// high. 0 means DefaultMinKeep; negative means none.
	MinKeep int
	// Logger receives the one-line notice when embedding the tools fails.
	// Nil discards.
	Logger *slog.Logger
}

// Embedder turns texts into unit-length vectors; core/embed's providers
// satisfy it.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Filter picks, per message, the tools worth offering to the model: core
// tools always, the rest when their name, description and example intents
// are similar enough to the message (by embedding when vectors exist, by
// BM25 otherwise). It only reads after NewFilter, so it is safe for
// concurrent use.
type Filter struct {
	always  map[string]bool
	minCos  float64
	minKeep int
	pos     map[string]int // tool name -> index in vecs, cost and bm25
	vecs    [][]float32    // nil when the tools have no embeddings
	bm25    *rank.BM25
	cost    []int // estimated prompt tokens of each tool's spec
}

// Selection is the outcome of Filter.Select.
type Selection struct {
	// Tools are the tools that pass, in the order offered.
	Tools []Tool
	// Dropped names the tools filtered out, in the order offered.
	Dropped []string
	// TokensSaved estimates the prompt tokens of the dropped tools' specs
	// (name, description and schema JSON; see core/tokens).
	TokensSaved int
}

// NewFilter prepares a filter for ts. With an embedder it embeds every
// tool's text (name, description, examples) once, here, not per message; if
// that fails, or e is nil, the filter ranks by BM25 over the same texts
// (a failure is logged once, never returned). It fails only on invalid
// input: duplicate or empty tool names.
func NewFilter(ctx context.Context, ts []Tool, e Embedder, o FilterOptions) (*Filter, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if math.IsNaN(o.MinCosine) {
		return nil, errors.New("new tool filter: min cosine is NaN")
	}
	f := &Filter{
		always:  map[string]bool{},
		minCos:  o.MinCosine,
		minKeep: o.MinKeep,
		pos:     make(map[string]int, len(ts)),
		cost:    make([]int, len(ts)),
	}
	if f.minCos == 0 {
		f.minCos = DefaultMinCosine
	}
	switch {
	case f.minKeep == 0:
		f.minKeep = DefaultMinKeep
	case f.minKeep < 0:
		f.minKeep = 0
	}
	always := o.Always
	if always == nil {
		always = DefaultAlwaysTools()
	}
	for _, n := range always {
		f.always[n] = true
	}
	texts := make([]string, len(ts))
	for i, t := range ts {
		if t.Name == "" {
			return nil, fmt.Errorf("new tool filter: tool %d has no name", i)
		}
		if _, dup := f.pos[t.Name]; dup {
			return nil, fmt.Errorf("new tool filter: duplicate tool %q", t.Name)
		}
		f.pos[t.Name] = i
		texts[i] = toolText(t)
		f.cost[i] = specTokens(t)
	}
	f.bm25 = rank.NewBM25(texts, rank.DefaultK1, rank.DefaultB)
	if e != nil && len(ts) > 0 {
		vecs, err := embedTools(ctx, e, texts)
		if err != nil {
			log.Warn("tool filter: embedding tool descriptions failed, ranking tools by BM25", "tools", len(ts), "err", err)
		} else {
			f.vecs = vecs
		}
	}
	return f, nil
}

// toolText is what a tool is matched on: its name with underscores as
// spaces, its description and its example intents.
func toolText(t Tool) string {
	parts := append([]string{strings.ReplaceAll(t.Name, "_", " "), t.Description}, t.Examples...)
	return strings.Join(parts, "\n")
}

// specTokens estimates what a tool's spec costs in the prompt.
func specTokens(t Tool) int {
	return tokens.Estimate(t.Name) + tokens.Estimate(t.Description) + tokens.Estimate(string(t.Schema))
}

// embedTools embeds texts and checks the answer: one finite, non-zero vector
// per text, all of one dimension. The vectors are normalised copies.
func embedTools(ctx context.Context, e Embedder, texts []string) ([][]float32, error) {
	vecs, err := e.Embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts))
	}
	out := make([][]float32, len(vecs))
	for i, v := range vecs {
		if len(v) == 0 || len(v) != len(vecs[0]) {
			return nil, fmt.Errorf("embedder returned vector %d with %d dimensions, want %d", i, len(v), len(vecs[0]))
		}
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
			return nil, fmt.Errorf("embedder returned an invalid vector %d", i)
		}
		out[i] = rank.Normalize(slices.Clone(v))
	}
	return out, nil
}

// Select filters offered (the tools policy allows for this run, in order)
// for message. vec is the message's embedding, computed once by the caller
// for memory prefetch too; without it, or when the tools have no
// embeddings or a different dimension, tools are ranked by BM25 over the
// message text. Core tools and tools the filter was not built with always
// pass; the other tools pass when their score reaches the floor or they are
// among the MinKeep best (ties keep offered order).
func (f *Filter) Select(message string, vec []float32, offered []Tool) Selection {
	type ranked struct {
		idx   int // index in offered
		score float64
		pass  bool
	}
	var cands []ranked
	score, vectors := f.scorer(message, vec)
	best := 0.0
	for i, t := range offered {
		if p, known := f.pos[t.Name]; known && !f.always[t.Name] {
			c := ranked{idx: i, score: score(p)}
			best = max(best, c.score)
			cands = append(cands, c)
		}
	}
	floor := f.minCos
	if !vectors {
		// BM25 scores have no fixed scale: pass tools close to the best
		// match; with no word in common, only MinKeep pass.
		floor = bm25Relative * best
		if best == 0 {
			floor = math.Inf(1)
		}
	}
	for i := range cands {
		cands[i].pass = cands[i].score >= floor
	}
	slices.SortStableFunc(cands, func(a, b ranked) int { return cmp.Compare(b.score, a.score) })
	drop := make(map[int]bool, len(cands))
	for r, c := range cands {
		if r >= f.minKeep && !c.pass {
			drop[c.idx] = true
		}
	}
	sel := Selection{Tools: make([]Tool, 0, len(offered)-len(drop))}
	for i, t := range offered {
		if !drop[i] {
			sel.Tools = append(sel.Tools, t)
			continue
		}
		sel.Dropped = append(sel.Dropped, t.Name)
		sel.TokensSaved += f.cost[f.pos[t.Name]]
	}
	return sel
}

// scorer returns the per-tool score function for a message and whether it
// compares embeddings (true) or BM25 scores (false).
func (f *Filter) scorer(message string, vec []float32) (func(int) float64, bool) {
	if f.vecs != nil && len(vec) > 0 && len(vec) == len(f.vecs[0]) {
		q := rank.Normalize(slices.Clone(vec))
		return func(i int) float64 { return float64(rank.Dot(q, f.vecs[i])) }, true
	}
	scores := f.bm25.Scores(rank.ContentWords(message))
	return func(i int) float64 { return scores[i] }, false
}
