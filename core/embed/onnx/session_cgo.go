//go:build cgo

package onnx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/genos-project/genos/core/embed"
	"github.com/genos-project/genos/core/embed/wordpiece"
	ort "github.com/yalue/onnxruntime_go"
)

// Embedder implements embed.Embedder.
var _ embed.Embedder = (*Embedder)(nil)

// ONNX Runtime has one environment per process, bound to the library it
// was loaded from: the first New loads it, later ones must name the same
// library. It is never torn down (sessions may outlive any one caller).
var (
	envMu      sync.Mutex
	envLibrary string
)

func initEnvironment(library string) error {
	envMu.Lock()
	defer envMu.Unlock()
	if envLibrary != "" {
		if envLibrary != library {
			return fmt.Errorf("ONNX Runtime is already loaded from %s; one process cannot load a second copy from %s", envLibrary, library)
		}
		return nil
	}
	ort.SetSharedLibraryPath(library)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("load ONNX Runtime from %s (it must be version 1.24 or later): %w", library, err)
	}
	envLibrary = library
	return nil
}

// Embedder runs a local BERT-family model. It is safe for concurrent use;
// runs are serialised, since one run already uses every core.
type Embedder struct {
	id      string
	tok     *wordpiece.Tokenizer
	session *ort.DynamicAdvancedSession
	inputs  []inputKind // in session input order
	int32In bool        // the model takes int32 ids rather than int64
	pooled  bool        // the output is [batch, dim] already
	dims    int
	s       settings
	log     *slog.Logger

	mu     sync.Mutex // serialises runs and guards closed
	closed bool
}

type inputKind int

const (
	inputIDs inputKind = iota
	inputMask
	inputTypes
)

// New loads the model and its vocab. It loads ONNX Runtime into the process
// on first use.
func New(o Options) (*Embedder, error) {
	s, err := resolve(o)
	if err != nil {
		return nil, err
	}
	tok, err := wordpiece.Load(s.vocab, wordpiece.Options{Lowercase: s.lowercase})
	if err != nil {
		return nil, fmt.Errorf("onnx embedder: %w", err)
	}
	id, err := modelID(s)
	if err != nil {
		return nil, fmt.Errorf("onnx embedder: %w", err)
	}
	if err := initEnvironment(s.library); err != nil {
		return nil, fmt.Errorf("onnx embedder: %w", err)
	}
	e := &Embedder{id: id, tok: tok, s: s, log: slog.New(slog.DiscardHandler)}
	inNames, outName, err := e.inspect()
	if err != nil {
		return nil, fmt.Errorf("onnx embedder: model %s: %w", s.model, err)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnx embedder: %w", err)
	}
	defer opts.Destroy()
	if s.threads > 0 {
		if err := opts.SetIntraOpNumThreads(s.threads); err != nil {
			return nil, fmt.Errorf("onnx embedder: threads: %w", err)
		}
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("onnx embedder: threads: %w", err)
	}
	e.session, err = ort.NewDynamicAdvancedSession(s.model, inNames, []string{outName}, opts)
	if err != nil {
		return nil, fmt.Errorf("onnx embedder: load model %s: %w", s.model, err)
	}
	return e, nil
}

// inspect finds the inputs the model takes and the output to pool, and
// learns the dimension when the output shape states it.
func (e *Embedder) inspect() (inNames []string, outName string, err error) {
	ins, outs, err := ort.GetInputOutputInfo(e.s.model)
	if err != nil {
		return nil, "", fmt.Errorf("read inputs and outputs: %w", err)
	}
	var have []string
	for _, in := range ins {
		have = append(have, in.Name)
		var k inputKind
		switch in.Name {
		case "input_ids":
			k = inputIDs
			e.int32In = in.DataType == ort.TensorElementDataTypeInt32
		case "attention_mask":
			k = inputMask
		case "token_type_ids":
			k = inputTypes
		default:
			return nil, "", fmt.Errorf("unsupported input %q (a BERT model takes input_ids, attention_mask and token_type_ids)", in.Name)
		}
		if in.DataType != ort.TensorElementDataTypeInt64 && in.DataType != ort.TensorElementDataTypeInt32 {
			return nil, "", fmt.Errorf("input %q has element type %s, want int64 or int32", in.Name, in.DataType)
		}
		if len(in.Dimensions) != 2 {
			return nil, "", fmt.Errorf("input %q has rank %d, want 2 ([batch, sequence])", in.Name, len(in.Dimensions))
		}
		e.inputs = append(e.inputs, k)
		inNames = append(inNames, in.Name)
	}
	if !slices.Contains(e.inputs, inputIDs) {
		return nil, "", fmt.Errorf("no input_ids input (inputs: %v)", have)
	}
	if len(outs) == 0 {
		return nil, "", errors.New("no outputs")
	}
	out := outs[0]
	for _, o := range outs {
		if o.Name == "last_hidden_state" {
			out = o
		}
	}
	if out.OrtValueType != ort.ONNXTypeTensor || out.DataType != ort.TensorElementDataTypeFloat {
		return nil, "", fmt.Errorf("output %q is not a float32 tensor (%s)", out.Name, out.String())
	}
	switch len(out.Dimensions) {
	case 3:
	case 2:
		e.pooled = true
	default:
		return nil, "", fmt.Errorf("output %q has rank %d, want 3 (token embeddings) or 2 (sentence embeddings)", out.Name, len(out.Dimensions))
	}
	if d := out.Dimensions[len(out.Dimensions)-1]; d > 0 {
		e.dims = int(d)
	}
	return inNames, out.Name, nil
}

// Model returns "onnx/<model file name>@<fingerprint>".
func (e *Embedder) Model() string { return e.id }

// Dimensions is the vector length, from the model's output shape or its
// first run; 0 until known.
func (e *Embedder) Dimensions() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dims
}

// Close releases the model. Embed fails afterwards.
func (e *Embedder) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	return e.session.Destroy()
}

// Embed returns one unit vector per text, running the model on batches of
// BatchSize texts. Texts longer than MaxTokens tokens are cut.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	if err := checkTexts(texts); err != nil {
		return nil, err
	}
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += e.s.batch {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		vecs, err := e.embedBatch(texts[start:min(start+e.s.batch, len(texts))])
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// embedBatch tokenizes, pads, runs and pools one batch.
func (e *Embedder) embedBatch(texts []string) ([][]float32, error) {
	encs := make([]wordpiece.Encoding, len(texts))
	seq := 0
	for i, t := range texts {
		enc, err := e.tok.Encode(t, e.s.maxTokens)
		if err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		encs[i] = enc
		seq = max(seq, len(enc.IDs))
	}
	b := len(texts)
	ids := make([]int64, b*seq)
	mask := make([]int64, b*seq)
	types := make([]int64, b*seq)
	for i, enc := range encs {
		row := i * seq
		for j := range seq {
			if j < len(enc.IDs) {
				ids[row+j], mask[row+j], types[row+j] = enc.IDs[j], enc.AttentionMask[j], enc.TypeIDs[j]
			} else {
				ids[row+j] = e.tok.PadID()
			}
		}
	}
	shape := ort.NewShape(int64(b), int64(seq))
	inputs := make([]ort.Value, 0, len(e.inputs))
	defer func() {
		for _, v := range inputs {
			_ = v.Destroy()
		}
	}()
	for _, k := range e.inputs {
		data := map[inputKind][]int64{inputIDs: ids, inputMask: mask, inputTypes: types}[k]
		v, err := newIntTensor(shape, data, e.int32In)
		if err != nil {
			return nil, fmt.Errorf("embed: %w", err)
		}
		inputs = append(inputs, v)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, errors.New("embed: the ONNX embedder is closed")
	}
	outputs := []ort.Value{nil}
	if err := e.session.Run(inputs, outputs); err != nil {
		return nil, fmt.Errorf("embed: run model %s: %w", e.id, err)
	}
	defer outputs[0].Destroy()
	t, ok := outputs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("embed: model %s returned a %T, want a float32 tensor", e.id, outputs[0])
	}
	return e.pool(t.GetShape(), t.GetData(), mask, b, seq)
}

// pool turns the model output into unit vectors. Called with e.mu held.
func (e *Embedder) pool(shape ort.Shape, data []float32, mask []int64, b, seq int) ([][]float32, error) {
	var dim int
	switch {
	case e.pooled && len(shape) == 2 && shape[0] == int64(b):
		dim = int(shape[1])
	case !e.pooled && len(shape) == 3 && shape[0] == int64(b) && shape[1] == int64(seq):
		dim = int(shape[2])
	default:
		return nil, fmt.Errorf("embed: model %s returned shape %v for a batch of %d x %d tokens", e.id, shape, b, seq)
	}
	if dim <= 0 || (e.dims != 0 && dim != e.dims) {
		return nil, fmt.Errorf("embed: model %s returned %d-dimensional vectors, expected %d", e.id, dim, e.dims)
	}
	out := make([][]float32, b)
	for i := range b {
		var v []float64
		if e.pooled {
			v = make([]float64, dim)
			for j, x := range data[i*dim : (i+1)*dim] {
				v[j] = float64(x)
			}
		} else {
			var err error
			v, err = meanPool(data[i*seq*dim:(i+1)*seq*dim], mask[i*seq:(i+1)*seq], dim)
			if err != nil {
				return nil, fmt.Errorf("embed: text %d: %w", i, err)
			}
		}
		u, err := normalize(v)
		if err != nil {
			return nil, fmt.Errorf("embed: model %s gave a bad vector for text %d: %w", e.id, i, err)
		}
		out[i] = u
	}
	e.dims = dim
	return out, nil
}

// newIntTensor makes an int64 tensor, or an int32 one for models exported
// with 32-bit ids.
func newIntTensor(shape ort.Shape, data []int64, as32 bool) (ort.Value, error) {
	if !as32 {
		return ort.NewTensor(shape, data)
	}
	d := make([]int32, len(data))
	for i, x := range data {
		d[i] = int32(x)
	}
	return ort.NewTensor(shape, d)
}
