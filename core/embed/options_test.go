package embed

import (
	"github.com/genos-project/genos/core/model"

	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewOpenAIValidation(t *testing.T) {
	t.Parallel()
	ok := OpenAIOptions{BaseURL: "http://127.0.0.1:11434/v1/", Model: "nomic-embed-text"}
	tests := []struct {
		name   string
		modify func(o *OpenAIOptions)
		wantIn string // "" = valid
	}{
		{"valid", func(*OpenAIOptions) {}, ""},
		{"no base URL", func(o *OpenAIOptions) { o.BaseURL = "" }, "base URL is required"},
		{"bad scheme", func(o *OpenAIOptions) { o.BaseURL = "ftp://x/v1" }, "want an http://"},
		{"credentials in URL", func(o *OpenAIOptions) { o.BaseURL = "http://u:p@x/v1" }, "not in the URL"},
		{"no model", func(o *OpenAIOptions) { o.Model = " " }, "model is required"},
		{"negative dims", func(o *OpenAIOptions) { o.Dimensions = -1 }, "dimensions"},
		{"negative batch", func(o *OpenAIOptions) { o.BatchSize = -2 }, "batch size"},
		{"bad retries", func(o *OpenAIOptions) { o.MaxRetries = -2 }, "max retries"},
		{"negative timeout", func(o *OpenAIOptions) { o.Timeout = -time.Second }, "timeout"},
		{"key with newline", func(o *OpenAIOptions) { o.APIKey = "a\nb" }, "line break"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := ok
			tc.modify(&o)
			e, err := NewOpenAI(o)
			if tc.wantIn == "" {
				if err != nil {
					t.Fatalf("NewOpenAI: %v", err)
				}
				if e.Model() != "127.0.0.1:11434/nomic-embed-text" || e.endpoint != "http://127.0.0.1:11434/v1/embeddings" {
					t.Errorf("Model() = %q, endpoint = %q", e.Model(), e.endpoint)
				}
				if e.batchSize != 64 || e.maxRetries != 3 || e.timeout != 60*time.Second {
					t.Errorf("defaults = batch %d, retries %d, timeout %s", e.batchSize, e.maxRetries, e.timeout)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantIn) {
				t.Fatalf("NewOpenAI err = %v, want one containing %q", err, tc.wantIn)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"absent", http.Header{}, 0},
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{"fraction", http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond},
		{"ms header wins", http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"3"}}, 250 * time.Millisecond},
		{"negative", http.Header{"Retry-After": {"-1"}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"date", http.Header{"Retry-After": {now.Add(10 * time.Second).Format(http.TimeFormat)}}, 10 * time.Second},
		{"past date", http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0},
		{"huge", http.Header{"Retry-After": {"1e12"}}, 24 * time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := model.ParseRetryAfter(tc.h, now); got != tc.want {
				t.Errorf("ParseRetryAfter = %s, want %s", got, tc.want)
			}
		})
	}
}
