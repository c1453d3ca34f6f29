package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/genos-project/genos/core/embed"
)

// Environment variables that name a real embedder for the quality and
// tool-filter rows. Without one the memory step reports BM25 only and says
// so: no embedding model can be downloaded on the build machines, and a
// made-up embedder must never be reported as semantic search.
const (
	envEmbedURL   = "GENOS_BENCH_EMBED_URL"   // OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1
	envEmbedModel = "GENOS_BENCH_EMBED_MODEL" // model name at that URL, required with the URL
	envEmbedKey   = "GENOS_BENCH_EMBED_KEY"   // optional bearer token, never printed
	envONNXModel  = "GENOS_BENCH_ONNX_MODEL"  // a local BERT-family ONNX model (cgo builds)
	envONNXLib    = "GENOS_ONNXRUNTIME_LIB"   // the onnxruntime shared library for it
)

// noEmbedderNote is what the quality rows say when no embedder is set.
const noEmbedderNote = "no embedder available (set " + envEmbedURL + " or " + envONNXModel + ")"

// benchEmbedder is the real embedder named by the environment, if any.
type benchEmbedder struct {
	e      embed.Embedder
	desc   string    // for the command column: where the vectors come from
	closer io.Closer // the local ONNX session; nil otherwise
}

// close releases the local model, if any.
func (b *benchEmbedder) close() {
	if b != nil && b.closer != nil {
		_ = b.closer.Close()
	}
}

// embedderFromEnv returns the embedder the environment names, nil (and no
// error) when it names none, or an error when the one it names cannot be
// used: a set variable that does not work is a failed measurement, not a
// reason to fall back silently. The embedder is probed once so that an
// unreachable server fails here, not in the middle of the quality runs.
func embedderFromEnv(ctx context.Context) (*benchEmbedder, error) {
	url := strings.TrimSpace(os.Getenv(envEmbedURL))
	onnxPath := strings.TrimSpace(os.Getenv(envONNXModel))
	var b *benchEmbedder
	switch {
	case url != "":
		model := strings.TrimSpace(os.Getenv(envEmbedModel))
		if model == "" {
			return nil, fmt.Errorf("%s is set but %s is not: name the embedding model", envEmbedURL, envEmbedModel)
		}
		e, err := embed.NewOpenAI(embed.OpenAIOptions{BaseURL: url, APIKey: os.Getenv(envEmbedKey), Model: model})
		if err != nil {
			return nil, err
		}
		b = &benchEmbedder{e: e, desc: fmt.Sprintf("%s=%s %s=%s (OpenAI-compatible /embeddings)", envEmbedURL, url, envEmbedModel, model)}
	case onnxPath != "":
		e, c, err := newONNXEmbedder(onnxPath, os.Getenv(envONNXLib))
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", envONNXModel, onnxPath, err)
		}
		b = &benchEmbedder{e: e, closer: c, desc: fmt.Sprintf("%s=%s (local ONNX embedder, core/embed/onnx)", envONNXModel, onnxPath)}
	default:
		return nil, nil
	}
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	vs, err := b.e.Embed(pctx, []string{"probe: is the embedder reachable?"})
	if err == nil && (len(vs) != 1 || len(vs[0]) == 0) {
		err = fmt.Errorf("the embedder returned %d vectors for one text", len(vs))
	}
	if err != nil {
		b.close()
		return nil, fmt.Errorf("embedder (%s) does not answer: %w", b.desc, err)
	}
	return b, nil
}

// timingDims is the dimension of the timing-only vectors, that of the
// small BERT-family models (MiniLM, bge-small) a local install would use.
const timingDims = 384

// timingVectors is NOT an embedding model: it maps each text to a fixed
// pseudo-random unit vector (seeded by a hash of the text), so that the
// scale rows can measure storing, sealing, loading and scanning 384-dim
// vectors at 100k chunks. Its vectors carry no meaning and it is never used
// for a quality or tool-filter row; rows that use it say "timing only".
type timingVectors struct{}

func (timingVectors) Model() string   { return "bench-random-384-timing-only" }
func (timingVectors) Dimensions() int { return timingDims }

func (timingVectors) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = randomUnit(rand.New(rand.NewPCG(seedOf(t), timingDims)), timingDims)
	}
	return out, nil
}

// randomUnit returns a random unit vector of n dimensions (Gaussian
// components, normalised, so directions are uniform on the sphere).
func randomUnit(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	var sum float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		sum += x * x
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// seedOf turns a string into a PCG seed, so generated data is the same on
// every run.
func seedOf(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// errNoONNX is returned by newONNXEmbedder in builds without the local
// ONNX embedder.
var errNoONNX = errors.New("the local ONNX embedder is not in this build (it needs cgo)")
