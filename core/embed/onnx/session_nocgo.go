//go:build !cgo

package onnx

import (
	"context"
	"errors"

	"github.com/genos-project/genos/core/embed"
)

// Embedder implements embed.Embedder.
var _ embed.Embedder = (*Embedder)(nil)

// ErrNoCgo is returned by New in builds without cgo, which cannot load ONNX
// Runtime.
var ErrNoCgo = errors.New("the local ONNX embedder needs a build with cgo (CGO_ENABLED=1); " +
	"this build cannot load ONNX Runtime: use an OpenAI-compatible embedding server instead, or a cgo build of genos")

// Embedder is the local embedder; in this build it cannot be made.
type Embedder struct{}

// New reports ErrNoCgo: this build has no ONNX Runtime.
func New(Options) (*Embedder, error) { return nil, ErrNoCgo }

// Model is empty: no Embedder exists in this build.
func (*Embedder) Model() string { return "" }

// Dimensions is 0: no Embedder exists in this build.
func (*Embedder) Dimensions() int { return 0 }

// Embed reports ErrNoCgo.
func (*Embedder) Embed(context.Context, []string) ([][]float32, error) { return nil, ErrNoCgo }

// Close does nothing.
func (*Embedder) Close() error { return nil }
