package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/genos-project/genos/core/memory"
)

// The memory step (`-only memory`) measures core/memory in process, without
// the gateway binary (ARCHITECTURE.md sections 8 and 14, issue 6):
//
//   - retrieval quality on the labelled set testdata/retrieval: recall@5
//     and MRR for BM25 alone, and for vectors alone and hybrid when a real
//     embedder is named by the environment (see memory_embed.go);
//   - prompt tokens with and without the semantic tool filter on fixed
//     scenarios, and TOON against JSON for the prefetch block;
//   - index build rate and hybrid search p50/p99 at 10k and 100k synthetic
//     chunks, and unlock-to-searchable at 100k sealed chunks.

// Sizes of the scale rows; -quick keeps only the small one.
var (
	scaleSizes      = []int{10_000, 100_000}
	quickScaleSizes = []int{10_000}
)

// runMemoryStep runs the memory measurements, adding rows and notes to rep;
// a part that fails becomes an error row and the others still run. It
// reports whether any part failed.
func runMemoryStep(ctx context.Context, o *options, rep *report) (failed bool) {
	say := func(format string, a ...any) { fmt.Fprintf(o.progress, "bench: memory: "+format+"\n", a...) }
	fail := func(name, cmd string, err error) {
		failed = true
		rep.Rows = append(rep.Rows, row{Name: name, Value: "not measured", Verdict: verdictError, Command: cmd})
		rep.Notes = append(rep.Notes, fmt.Sprintf("**%s failed:** %s", name, truncate(err.Error(), 1200)))
	}
	const where = "in process, core/memory"

	set, err := loadRetrievalSet(retrievalDir)
	if err != nil {
		fail("memory retrieval set", retrievalDir, err)
		return true
	}
	say("embedder from the environment")
	emb, err := embedderFromEnv(ctx)
	if err != nil {
		// A named embedder that does not work is a failed measurement; the
		// BM25 rows are still worth having.
		fail("memory embedder", envEmbedURL+" / "+envONNXModel, err)
		emb = nil
	}
	defer emb.close()

	say("retrieval quality on %s (%d queries)", retrievalDir, len(set.queries))
	rows, notes, err := qualityRows(ctx, set, emb)
	rep.Rows = append(rep.Rows, rows...)
	rep.Notes = append(rep.Notes, notes...)
	if err != nil {
		fail("memory retrieval quality", where, err)
	}

	if ctx.Err() == nil {
		say("prompt tokens with and without the tool filter (%d scenarios)", len(toolScenarios))
		rows, notes, err := toolFilterRows(ctx, emb)
		rep.Rows = append(rep.Rows, rows...)
		rep.Notes = append(rep.Notes, notes...)
		if err != nil {
			fail("prompt tokens with the tool filter", "in process, core/tools filter", err)
		}
	}

	sizes := scaleSizes
	if o.quick {
		sizes = quickScaleSizes
	}
	largest := sizes[len(sizes)-1]
	sents, err := datasetSentences(set.notesDir)
	if err != nil {
		fail("memory scale", where, err)
		return true
	}
	texts := synthChunks(sents, largest)
	load := searchLoad{vecs: synthVectors(len(set.queries), synthSeed+1)}
	for _, q := range set.queries {
		load.texts = append(load.texts, q.Query)
	}
	tok := meanTokens(texts[:min(len(texts), 5000)])
	var results []scaleResult
	vecs := synthVectors(largest, synthSeed)
	for _, n := range sizes {
		if ctx.Err() != nil {
			return true
		}
		say("index build and search, %s chunks", fmtCount(n))
		r, err := measureIndexScale(ctx, texts, vecs, n, load)
		if err != nil {
			fail(fmt.Sprintf("memory index, %s chunks", fmtCount(n)), "in process, core/memory/index", err)
			continue
		}
		results = append(results, r)
	}
	rep.Rows = append(rep.Rows, scaleRows(results, tok, len(load.texts))...)
	vecs = nil

	if ctx.Err() == nil {
		say("unlock to first search, %s sealed chunks (writing them first)", fmtCount(largest))
		r, err := measureUnlock(ctx, texts, load)
		if err != nil {
			fail(fmt.Sprintf("memory unlock, %s chunks", fmtCount(largest)), where+" + core/vault + core/store", err)
		} else {
			rep.Rows = append(rep.Rows, unlockRows(r, runtime.GOMAXPROCS(0))...)
		}
	}
	rep.Notes = append(rep.Notes, memoryNote(emb))
	return failed
}

// memoryNote explains the memory rows.
func memoryNote(emb *benchEmbedder) string {
	s := fmt.Sprintf("Memory rows run in process (no gateway). Quality: testdata/retrieval is a hand-written, labelled set (see its README); recall@%d is the share of queries with an expected note among the first %d distinct notes returned, MRR the mean reciprocal rank of the first expected note (0 beyond rank %d); a MEMORY.md chunk counts as the ## section it lies in. ", recallAt, recallAt, mrrDepth)
	if emb == nil {
		s += "No working embedder was available, so only BM25 is reported: set " + envEmbedURL + " (+ " + envEmbedModel + ", optional " + envEmbedKey + ") for an OpenAI-compatible /embeddings endpoint (OpenAI, Ollama, LM Studio), or " + envONNXModel + " (+ " + envONNXLib + ") for a local ONNX model in a cgo build, to get the vector and hybrid rows; the bench never stands in a made-up embedder for a real one. "
	}
	s += fmt.Sprintf("Scale and unlock rows use synthetic chunks and random unit vectors: they time the machinery (FTS5, vector scan, fusion, sealing, loading) and say nothing about quality. Prefetch blocks are gated at score %.2f (index scores are normalised reciprocal-rank fusion, so in BM25-only mode the gate rarely drops a top-5 row).", memory.DefaultPrefetchMinScore)
	return s
}
