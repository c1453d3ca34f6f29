//go:build cgo

package onnx

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genos-project/genos/core/embed/wordpiece"
)

// runtimeLibrary returns the ONNX Runtime library the tests load, or skips.
func runtimeLibrary(t *testing.T) string {
	t.Helper()
	lib := os.Getenv(LibraryEnv)
	if lib == "" {
		lib = DefaultLibraryPath()
	}
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("ONNX Runtime %s not found at %q: run packaging/fetch-onnxruntime.sh (it fetches it with npm pack) or set %s",
			RuntimeVersion, lib, LibraryEnv)
	}
	return lib
}

var testVocab = []string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "hello", "world", "##s", "the", "cat", "sat", "on", "mat", ".", "dog",
}

const testDim = 8

// testWeights is a fixed embedding table; [PAD]'s row is large so that
// pooling over padding would show.
func testWeights() []float32 {
	w := make([]float32, len(testVocab)*testDim)
	for i := range len(testVocab) {
		for j := range testDim {
			w[i*testDim+j] = float32(math.Sin(float64(i*7+j*3+1))) + float32(j%3)*0.25
			if i == 0 {
				w[i*testDim+j] = 50
			}
		}
	}
	return w
}

// writeModel writes m as model.onnx beside vocab.txt and returns the model
// path.
func writeModel(t *testing.T, m tinyModel) string {
	t.Helper()
	dir := t.TempDir()
	if m.weights == nil {
		m.weights, m.vocab, m.dim = testWeights(), len(testVocab), testDim
	}
	path := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(path, m.encode(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(testVocab, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// expected computes in Go what the model must give: the mean of the
// embedding rows of the text's tokens, normalised.
func expected(t *testing.T, text string, maxTokens int, lowercase bool) []float32 {
	t.Helper()
	tk, err := wordpiece.New(strings.NewReader(strings.Join(testVocab, "\n")), wordpiece.Options{Lowercase: lowercase})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := tk.Encode(text, maxTokens)
	if err != nil {
		t.Fatal(err)
	}
	w := testWeights()
	hidden := make([]float32, 0, len(enc.IDs)*testDim)
	for _, id := range enc.IDs {
		hidden = append(hidden, w[int(id)*testDim:(int(id)+1)*testDim]...)
	}
	sum, err := meanPool(hidden, enc.AttentionMask, testDim)
	if err != nil {
		t.Fatal(err)
	}
	v, err := normalize(sum)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func close32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			return false
		}
	}
	return true
}

func TestEmbedTinyModels(t *testing.T) {
	lib := runtimeLibrary(t)
	texts := []string{"Hello worlds", "the cat sat on the mat.", "DOG", "hello", "cats dogs zebra", "The Mat"}
	tests := []struct {
		name      string
		model     tinyModel
		o         Options
		maxTokens int
	}{
		{"bert inputs, padded batches", tinyModel{extra: true}, Options{BatchSize: 4}, 256},
		{"input_ids only, int32, other output name", tinyModel{idsType: onnxInt32, outName: "token_embeddings"}, Options{}, 256},
		{"already pooled output", tinyModel{pooled: true, extra: true}, Options{BatchSize: 1}, 256},
		{"truncated to max tokens", tinyModel{extra: true}, Options{MaxTokens: 4, BatchSize: 3}, 4},
		{"cased", tinyModel{extra: true}, Options{Cased: true, Threads: 1}, 256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.ModelPath = writeModel(t, tc.model)
			o.LibraryPath = lib
			e, err := New(o)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer e.Close()
			if e.Dimensions() != testDim {
				t.Errorf("Dimensions() = %d, want %d from the output shape", e.Dimensions(), testDim)
			}
			if !strings.HasPrefix(e.Model(), "onnx/model.onnx@") || len(e.Model()) != len("onnx/model.onnx@")+12 {
				t.Errorf("Model() = %q, want onnx/model.onnx@<12 hex>", e.Model())
			}
			got, err := e.Embed(t.Context(), texts)
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			if len(got) != len(texts) {
				t.Fatalf("%d vectors for %d texts", len(got), len(texts))
			}
			for i, text := range texts {
				want := expected(t, text, tc.maxTokens, !tc.o.Cased)
				if !close32(want, got[i]) {
					t.Errorf("Embed(%q) = %v, want %v", text, got[i], want)
				}
			}
		})
	}
}

func TestEmbedDistinguishes(t *testing.T) {
	// The pooled vectors must actually depend on the text (guards against
	// a test that compares a constant with itself).
	lib := runtimeLibrary(t)
	e, err := New(Options{ModelPath: writeModel(t, tinyModel{extra: true}), LibraryPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got, err := e.Embed(t.Context(), []string{"hello", "cat", "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if close32(got[0], got[1]) || !close32(got[0], got[2]) {
		t.Errorf("vectors of hello, cat, hello = %v", got)
	}
	cased, err := New(Options{ModelPath: writeModel(t, tinyModel{extra: true}), LibraryPath: lib, Cased: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cased.Close()
	if cased.Model() == e.Model() {
		t.Errorf("cased and uncased embedders share the model id %q", e.Model())
	}
}

func TestEmbedErrors(t *testing.T) {
	lib := runtimeLibrary(t)
	if _, err := New(Options{ModelPath: writeModel(t, tinyModel{badInput: "position_ids"}), LibraryPath: lib}); err == nil ||
		!strings.Contains(err.Error(), `unsupported input "position_ids"`) {
		t.Errorf("New with a position_ids input = %v, want an unsupported input error", err)
	}
	e, err := New(Options{ModelPath: writeModel(t, tinyModel{}), LibraryPath: lib})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.Embed(t.Context(), nil); got != nil || err != nil {
		t.Errorf("Embed(nil) = %v, %v; want nil, nil", got, err)
	}
	if _, err := e.Embed(t.Context(), []string{"hello", "  "}); err == nil || !strings.Contains(err.Error(), "text 1 of 2 is empty") {
		t.Errorf("Embed with an empty text = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := e.Embed(ctx, []string{"hello"}); !errors.Is(err, context.Canceled) {
		t.Errorf("Embed with a canceled context = %v, want context.Canceled", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Embed(t.Context(), []string{"hello"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Embed after Close = %v, want a closed error", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	other := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	if err := os.WriteFile(other, []byte("not a library"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{ModelPath: writeModel(t, tinyModel{}), LibraryPath: other}); err == nil ||
		!strings.Contains(err.Error(), "already loaded") {
		t.Errorf("New with a second library = %v, want an already loaded error", err)
	}
}
