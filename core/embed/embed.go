// Package embed owns the embedding providers that turn memory chunks, queries
// and tool descriptions into vectors for hybrid search: an OpenAI-compatible
// /v1/embeddings client (OpenAI, Ollama, LM Studio, llama.cpp, vLLM...) and a
// sealed cache in front of any provider. The local ONNX embedder lives in
// the onnx subpackage (cgo), its tokenizer in wordpiece.
//
// Every vector an [Embedder] returns is L2-normalised (unit length), so
// cosine similarity is a plain dot product and vectors from different calls
// compare directly. Providers check each answer before returning it: one
// finite, non-zero vector per input, all of the same, expected dimension.
package embed

import "context"

// Embedder turns texts into vectors.
type Embedder interface {
	// Embed returns one unit-length vector per text, in the order of texts.
	// An empty list yields nil, nil.
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	// Model identifies the provider endpoint and model; it is part of cache
	// keys, so vectors from different models never mix.
	Model() string
	// Dimensions is the vector length, 0 until known.
	Dimensions() int
}
