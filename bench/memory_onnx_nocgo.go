//go:build !cgo

package main

import (
	"io"

	"github.com/genos-project/genos/core/embed"
)

// newONNXEmbedder reports that this build has no local ONNX embedder: it
// needs cgo.
func newONNXEmbedder(modelPath, libPath string) (embed.Embedder, io.Closer, error) {
	return nil, nil, errNoONNX
}
