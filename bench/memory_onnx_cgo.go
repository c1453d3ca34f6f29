//go:build cgo

package main

import (
	"io"

	"github.com/genos-project/genos/core/embed"
	"github.com/genos-project/genos/core/embed/onnx"
)

// newONNXEmbedder loads a local ONNX embedding model (vocab.txt beside it)
// with the ONNX Runtime library at libPath ("" = onnx's default lookup).
func newONNXEmbedder(modelPath, libPath string) (embed.Embedder, io.Closer, error) {
	e, err := onnx.New(onnx.Options{ModelPath: modelPath, LibraryPath: libPath})
	if err != nil {
		return nil, nil, err
	}
	return e, e, nil
}
