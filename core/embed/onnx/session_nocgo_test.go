//go:build !cgo

package onnx

import (
	"errors"
	"strings"
	"testing"
)

func TestNewWithoutCgo(t *testing.T) {
	t.Parallel()
	e, err := New(Options{ModelPath: "model.onnx"})
	if e != nil || !errors.Is(err, ErrNoCgo) || !strings.Contains(err.Error(), "needs a build with cgo") {
		t.Fatalf("New = %v, %v; want ErrNoCgo", e, err)
	}
	var stub *Embedder
	if _, err := stub.Embed(t.Context(), []string{"x"}); !errors.Is(err, ErrNoCgo) {
		t.Errorf("Embed = %v, want ErrNoCgo", err)
	}
}
