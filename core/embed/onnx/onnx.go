// Package onnx is the local embedder: a BERT-family sentence-embedding model
// (all-MiniLM, bge, e5, nomic...) exported to ONNX, run in process by ONNX
// Runtime, with the WordPiece tokenizer of core/embed/wordpiece, mean pooling
// over the attention mask and L2 normalisation. Nothing leaves the machine.
//
// ONNX Runtime is a C library loaded at run time through cgo
// (github.com/yalue/onnxruntime_go, which needs ORT >= 1.24). Builds without
// cgo get a New that says so. The library is found at Options.LibraryPath,
// else $GENOS_ONNXRUNTIME_LIB, else where packaging/fetch-onnxruntime.sh
// puts it (DefaultLibraryPath).
package onnx

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// RuntimeVersion is the ONNX Runtime release packaging/fetch-onnxruntime.sh
// installs.
const RuntimeVersion = "1.24.3"

// LibraryEnv names the environment variable holding the ONNX Runtime
// library's path.
const LibraryEnv = "GENOS_ONNXRUNTIME_LIB"

// Defaults and bounds.
const (
	defaultMaxTokens = 256
	maxMaxTokens     = 8192
	defaultBatchSize = 16
	maxBatchSize     = 1024
)

// Options configure New.
type Options struct {
	ModelPath   string // required: the model.onnx file
	VocabPath   string // its BERT vocab.txt; "" = vocab.txt beside the model
	LibraryPath string // libonnxruntime; "" = $GENOS_ONNXRUNTIME_LIB, else DefaultLibraryPath()
	MaxTokens   int    // tokens per text including [CLS] and [SEP], longer texts are cut; 0 = 256
	// Cased keeps letter case and accents, for cased models; the default
	// lowercases and strips accents, as uncased models expect.
	Cased     bool
	Threads   int // ONNX Runtime intra-op threads; 0 = its default (one per core)
	BatchSize int // texts per model run; 0 = 16
}

// DefaultLibraryPath is where packaging/fetch-onnxruntime.sh installs the
// ONNX Runtime library: ${XDG_CACHE_HOME:-$HOME/.cache}/genos/onnxruntime/
// <RuntimeVersion>/libonnxruntime.so.1 (libonnxruntime.dylib on macOS). It
// returns "" when neither variable is set.
func DefaultLibraryPath() string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" || !filepath.IsAbs(cache) {
		home := os.Getenv("HOME")
		if home == "" {
			return ""
		}
		cache = filepath.Join(home, ".cache")
	}
	name := "libonnxruntime.so.1"
	if runtime.GOOS == "darwin" {
		name = "libonnxruntime.dylib"
	}
	return filepath.Join(cache, "genos", "onnxruntime", RuntimeVersion, name)
}

// settings are validated Options with defaults applied.
type settings struct {
	model, vocab, library string
	maxTokens             int
	lowercase             bool
	threads, batch        int
}

// resolve validates o, applies defaults and checks that the files exist.
func resolve(o Options) (settings, error) {
	s := settings{
		model:     o.ModelPath,
		vocab:     o.VocabPath,
		library:   o.LibraryPath,
		maxTokens: o.MaxTokens,
		lowercase: !o.Cased,
		threads:   o.Threads,
		batch:     o.BatchSize,
	}
	var errs []error
	if s.model == "" {
		errs = append(errs, errors.New("the model path is required (a BERT-family model.onnx)"))
	} else if err := checkFile(s.model, "model"); err != nil {
		errs = append(errs, err)
	}
	if s.vocab == "" && s.model != "" {
		s.vocab = filepath.Join(filepath.Dir(s.model), "vocab.txt")
	}
	if s.vocab != "" {
		if err := checkFile(s.vocab, "vocab"); err != nil {
			errs = append(errs, err)
		}
	}
	if s.library == "" {
		s.library = os.Getenv(LibraryEnv)
	}
	if s.library == "" {
		s.library = DefaultLibraryPath()
	}
	if err := checkFile(s.library, "ONNX Runtime library"); err != nil {
		errs = append(errs, fmt.Errorf("%w; run packaging/fetch-onnxruntime.sh, or install ONNX Runtime >= 1.24 and set %s", err, LibraryEnv))
	}
	switch {
	case s.maxTokens == 0:
		s.maxTokens = defaultMaxTokens
	case s.maxTokens < 2 || s.maxTokens > maxMaxTokens:
		errs = append(errs, fmt.Errorf("max tokens %d: must be between 2 and %d, or 0 for %d", s.maxTokens, maxMaxTokens, defaultMaxTokens))
	}
	switch {
	case s.batch == 0:
		s.batch = defaultBatchSize
	case s.batch < 0 || s.batch > maxBatchSize:
		errs = append(errs, fmt.Errorf("batch size %d: must be between 1 and %d, or 0 for %d", s.batch, maxBatchSize, defaultBatchSize))
	}
	if s.threads < 0 || s.threads > 1024 {
		errs = append(errs, fmt.Errorf("threads %d: must be between 1 and 1024, or 0 for the runtime's default", s.threads))
	}
	if err := errors.Join(errs...); err != nil {
		return settings{}, fmt.Errorf("invalid ONNX embedder options: %w", err)
	}
	return s, nil
}

func checkFile(path, what string) error {
	if path == "" {
		return fmt.Errorf("no %s path", what)
	}
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s %s does not exist", what, path)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s %s is not a regular file", what, path)
	}
	return nil
}

// modelID is Model(): "onnx/<model file name>@<fingerprint>". Every export
// is called model.onnx, so the name alone would let two models share cache
// entries; the fingerprint hashes the model, the vocab and the tokenizer
// settings, everything that decides the vectors.
func modelID(s settings) (string, error) {
	h := sha256.New()
	for _, p := range []string{s.model, s.vocab} {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("read %s: %w", p, err)
		}
		h.Write([]byte{0})
	}
	fmt.Fprintf(h, "maxTokens=%d lowercase=%v", s.maxTokens, s.lowercase)
	return "onnx/" + filepath.Base(s.model) + "@" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

// checkTexts rejects empty texts, like the other providers: a vector for
// nothing would only pollute search.
func checkTexts(texts []string) error {
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			return fmt.Errorf("embed: text %d of %d is empty; embeddings need non-empty text", i, len(texts))
		}
	}
	return nil
}

// meanPool averages the rows of hidden ([seq, dim], row-major) whose mask
// is non-zero, as sentence-transformers does.
func meanPool(hidden []float32, mask []int64, dim int) ([]float64, error) {
	out := make([]float64, dim)
	n := 0
	for t, m := range mask {
		if m == 0 {
			continue
		}
		n++
		row := hidden[t*dim : (t+1)*dim]
		for j, x := range row {
			out[j] += float64(x)
		}
	}
	if n == 0 {
		return nil, errors.New("no token to pool")
	}
	for j := range out {
		out[j] /= float64(n)
	}
	return out, nil
}

// normalize scales v to unit length as float32, rejecting non-finite
// values and the zero vector.
func normalize(v []float64) ([]float32, error) {
	var sum float64
	for j, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("component %d is not finite", j)
		}
		sum += x * x
	}
	norm := math.Sqrt(sum)
	if norm == 0 || math.IsInf(norm, 0) {
		return nil, errors.New("vector has no usable length")
	}
	out := make([]float32, len(v))
	for j, x := range v {
		out[j] = float32(x / norm)
	}
	return out, nil
}
