package embed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/genos-project/genos/core/model"
)

// OpenAI implements Embedder.
var _ Embedder = (*OpenAI)(nil)

// Defaults and bounds applied by NewOpenAI.
const (
	defaultBatchSize  = 64
	defaultMaxRetries = 3
	defaultTimeout    = 60 * time.Second
	maxErrorBody      = 64 << 10
	maxReplyBody      = 256 << 20 // 64 inputs x 4096 dims of JSON floats fits many times over
)

// OpenAIOptions configure an OpenAI-compatible embedding client.
type OpenAIOptions struct {
	BaseURL    string        // required, e.g. http://127.0.0.1:11434/v1; "/embeddings" is appended
	APIKey     string        // optional; sent as a Bearer token only when set; never logged
	Model      string        // required, e.g. text-embedding-3-small or nomic-embed-text
	Dimensions int           // expected vector length; 0 = learn from the first answer, then enforce
	BatchSize  int           // inputs per request; 0 = 64
	MaxRetries int           // retries of 429/5xx/network failures per batch; 0 = 3, -1 = none
	Timeout    time.Duration // per HTTP attempt; 0 = 60 s
	HTTPClient *http.Client  // optional; nil = a fresh client
	Logger     *slog.Logger  // optional; nil = discard
}

// OpenAI embeds texts through an OpenAI-compatible POST /embeddings endpoint.
// It is safe for concurrent use.
type OpenAI struct {
	endpoint   string // BaseURL + "/embeddings", no credentials
	id         string // Model(): host/model
	model      string
	apiKey     string
	batchSize  int
	maxRetries int
	timeout    time.Duration
	client     *http.Client
	log        *slog.Logger
	dims       atomic.Int64 // expected dimension, 0 until known

	// sleep waits between retries; a test seam so tests do not really wait.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewOpenAI validates o and returns a client. It does not contact the server.
func NewOpenAI(o OpenAIOptions) (*OpenAI, error) {
	base := strings.TrimSpace(o.BaseURL)
	if base == "" {
		return nil, errors.New("invalid embedding options: the base URL is required, e.g. http://127.0.0.1:11434/v1")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid embedding base URL %q: want an http:// or https:// URL such as http://127.0.0.1:11434/v1", base)
	}
	if u.User != nil {
		return nil, errors.New("invalid embedding base URL: put credentials in the API key, not in the URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid embedding base URL %q: it must not have a query or fragment", base)
	}
	modelName := strings.TrimSpace(o.Model)
	if modelName == "" {
		return nil, errors.New("invalid embedding options: the model is required, e.g. nomic-embed-text")
	}
	key := strings.TrimSpace(o.APIKey)
	if strings.ContainsAny(key, "\r\n") {
		return nil, errors.New("invalid embedding API key: it contains a line break")
	}
	if o.Dimensions < 0 {
		return nil, fmt.Errorf("invalid embedding dimensions %d: must be positive, or 0 to learn them", o.Dimensions)
	}
	if o.BatchSize < 0 {
		return nil, fmt.Errorf("invalid embedding batch size %d: must be positive, or 0 for the default", o.BatchSize)
	}
	if o.MaxRetries < -1 {
		return nil, fmt.Errorf("invalid embedding max retries %d: use -1 for none, 0 for the default", o.MaxRetries)
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("invalid embedding timeout %s: must not be negative", o.Timeout)
	}
	e := &OpenAI{
		endpoint:   strings.TrimRight(u.String(), "/") + "/embeddings",
		id:         u.Host + "/" + modelName,
		model:      modelName,
		apiKey:     key,
		batchSize:  cmpOr(o.BatchSize, defaultBatchSize),
		maxRetries: o.MaxRetries,
		timeout:    cmpOr(o.Timeout, defaultTimeout),
		client:     o.HTTPClient,
		log:        o.Logger,
		sleep:      sleepCtx,
	}
	switch e.maxRetries {
	case 0:
		e.maxRetries = defaultMaxRetries
	case -1:
		e.maxRetries = 0
	}
	if e.client == nil {
		e.client = &http.Client{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.dims.Store(int64(o.Dimensions))
	return e, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Model returns "host/model", e.g. "127.0.0.1:11434/nomic-embed-text". The
// host is included because the same model name on two servers (or two
// quantisations) need not give the same vectors.
func (e *OpenAI) Model() string { return e.id }

// Dimensions returns the expected vector length: the configured one, or the
// one learnt from the first answer; 0 until known.
func (e *OpenAI) Dimensions() int { return int(e.dims.Load()) }

// Embed returns one L2-normalised vector per text, in order. Texts are sent
// in batches of BatchSize; a failed batch fails the whole call. Empty (or
// all-whitespace) texts are rejected rather than padded, because OpenAI
// refuses them and a vector for nothing would only pollute search.
func (e *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			return nil, fmt.Errorf("embed: text %d of %d is empty; embeddings need non-empty text", i, len(texts))
		}
	}
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += e.batchSize {
		batch := texts[start:min(start+e.batchSize, len(texts))]
		vecs, err := e.embedBatch(ctx, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

// wireRequest and wireReply are the /v1/embeddings wire format.
type wireRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
}

type wireReply struct {
	Data []struct {
		Index     *int      `json:"index"`
		Embedding []float64 `json:"embedding"` // float64 so out-of-range values are caught, not rounded to Inf
	} `json:"data"`
	Model string `json:"model"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

// embedBatch sends one batch with retries, then validates the answer.
func (e *OpenAI) embedBatch(ctx context.Context, batch []string) ([][]float32, error) {
	body, err := json.Marshal(wireRequest{Model: e.model, Input: batch, EncodingFormat: "float"})
	if err != nil {
		return nil, fmt.Errorf("embed: encode request: %w", err)
	}
	ec := errorContext{endpoint: e.endpoint, apiKey: e.apiKey, timeout: e.timeout}
	var reply wireReply
	for n := 0; ; n++ {
		if err := ec.fromContext(ctx, nil); err != nil {
			return nil, err
		}
		err := e.attempt(ctx, ec, body, &reply)
		if err == nil {
			break
		}
		var me *model.Error
		if !errors.As(err, &me) || !me.Retryable() || n >= e.maxRetries {
			e.log.Debug("embedding request failed", "endpoint", e.endpoint, "model", e.model,
				"inputs", len(batch), "attempt", n+1, "err", err)
			return nil, err
		}
		wait := model.RetryWait(n, me.RetryAfter)
		e.log.Warn("embedding request failed, retrying", "endpoint", e.endpoint, "model", e.model,
			"kind", string(me.Kind), "status", me.Status, "attempt", n+1, "wait", wait)
		if serr := e.sleep(ctx, wait); serr != nil {
			if cerr := ec.fromContext(ctx, nil); cerr != nil {
				return nil, cerr
			}
			return nil, ec.newError(model.Canceled, 0, serr, "embedding request to %s was canceled", e.endpoint)
		}
	}
	e.log.Debug("embedding request done", "endpoint", e.endpoint, "model", e.model,
		"inputs", len(batch), "tokens", reply.Usage.TotalTokens)
	return e.validate(reply, len(batch))
}

// attempt runs one HTTP request under the per-attempt timeout and decodes a
// 200 reply into reply. Its errors are already classified.
func (e *OpenAI) attempt(ctx context.Context, ec errorContext, body []byte, reply *wireReply) error {
	actx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("embed: build request for %s: %w", e.endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if e.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+e.apiKey)
	}
	res, err := e.client.Do(req)
	if err != nil {
		if cerr := ec.fromContext(ctx, actx); cerr != nil {
			return cerr
		}
		return ec.fromTransport(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		errBody, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		return ec.fromHTTP(res.StatusCode, res.Header, errBody)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxReplyBody+1))
	if err != nil {
		if cerr := ec.fromContext(ctx, actx); cerr != nil {
			return cerr
		}
		return ec.fromTransport(err)
	}
	if len(raw) > maxReplyBody {
		return fmt.Errorf("embed: reply from %s is larger than %d MiB; lower the batch size", e.endpoint, maxReplyBody>>20)
	}
	*reply = wireReply{}
	if err := json.Unmarshal(raw, reply); err != nil {
		// A garbled body is most likely a proxy hiccup or a wrong base URL;
		// classify it as a server error so it is retried like one.
		return ec.newError(model.Server, res.StatusCode, err,
			"the embedding server at %s sent a reply that could not be read; check that the base URL points at an OpenAI-compatible API", e.endpoint)
	}
	return nil
}

// validate checks the reply against the batch and returns the vectors in
// input order, L2-normalised. It learns the dimension on first success.
func (e *OpenAI) validate(reply wireReply, n int) ([][]float32, error) {
	if len(reply.Data) != n {
		return nil, fmt.Errorf("embed: %s returned %d vectors for %d inputs", e.endpoint, len(reply.Data), n)
	}
	out := make([][]float32, n)
	dim := len(reply.Data[0].Embedding)
	for _, d := range reply.Data {
		if d.Index == nil {
			return nil, fmt.Errorf("embed: %s returned a vector without an index", e.endpoint)
		}
		i := *d.Index
		if i < 0 || i >= n {
			return nil, fmt.Errorf("embed: %s returned index %d for a batch of %d inputs", e.endpoint, i, n)
		}
		if out[i] != nil {
			return nil, fmt.Errorf("embed: %s returned index %d twice", e.endpoint, i)
		}
		if len(d.Embedding) != dim {
			return nil, fmt.Errorf("embed: %s returned vectors of different lengths (%d and %d)", e.endpoint, dim, len(d.Embedding))
		}
		v, err := normalize(d.Embedding)
		if err != nil {
			return nil, fmt.Errorf("embed: %s returned a bad vector for input %d: %w", e.endpoint, i, err)
		}
		out[i] = v
	}
	if dim == 0 {
		return nil, fmt.Errorf("embed: %s returned empty vectors", e.endpoint)
	}
	// Learn the dimension once; after that (or when configured) enforce it.
	if !e.dims.CompareAndSwap(0, int64(dim)) {
		if want := e.dims.Load(); int64(dim) != want {
			return nil, fmt.Errorf("embed: model %s at %s returned %d-dimensional vectors, expected %d; check the configured model and dimensions",
				e.model, e.endpoint, dim, want)
		}
	}
	return out, nil
}

// normalize returns v scaled to unit length as float32. It rejects NaN,
// infinities, values beyond float32 range and the zero vector. Components are
// divided by the largest magnitude before squaring so tiny or huge vectors
// neither underflow to zero nor overflow.
func normalize(v []float64) ([]float32, error) {
	var peak float64
	for j, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > math.MaxFloat32 {
			return nil, fmt.Errorf("component %d is not a finite float32 (%v)", j, x)
		}
		peak = max(peak, math.Abs(x))
	}
	if peak == 0 {
		return nil, errors.New("vector has no usable length (all zeros)")
	}
	var sum float64
	for _, x := range v {
		sum += (x / peak) * (x / peak)
	}
	norm := math.Sqrt(sum) // >= 1, since the peak component contributes 1
	out := make([]float32, len(v))
	for j, x := range v {
		out[j] = float32(x / peak / norm)
	}
	return out, nil
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
