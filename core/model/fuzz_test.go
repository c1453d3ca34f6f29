package model

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseRetryAfter feeds arbitrary Retry-After values: the result must
// never be negative or beyond the bound, and never panic.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "0.5", "-3", "NaN", "Inf", "1e400", "Wed, 21 Oct 2015 07:28:00 GMT", "soon", ""} {
		f.Add(s, "")
		f.Add("", s)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, retryAfter, retryAfterMs string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("Retry-After-Ms", retryAfterMs)
		d := parseRetryAfter(h, now)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("parseRetryAfter(%q, %q) = %s", retryAfter, retryAfterMs, d)
		}
		if w := retryWait(3, d); w < 0 || w > maxRetryWait {
			t.Fatalf("retryWait = %s", w)
		}
	})
}

// FuzzProviderDetail feeds arbitrary error bodies: the detail shown to users
// must be one bounded line of valid UTF-8.
func FuzzProviderDetail(f *testing.F) {
	for _, s := range []string{
		`{"error":{"message":"m","type":"t","code":"c"}}`,
		`{"type":"error","error":{"type":"not_found_error","message":"model: x"}}`,
		`{"error":"text"}`, `{"message":"x"}`, `{"error":{"code":429}}`,
		"<html></html>", "plain\ntext", "\xff\xfe", "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, c := providerDetail(body)
		for _, s := range []string{d, c} {
			if !utf8.ValidString(s) && utf8.Valid(body) {
				t.Fatalf("invalid UTF-8 %q from valid input", s)
			}
			if strings.ContainsAny(s, "\n\r") {
				t.Fatalf("multi-line detail %q", s)
			}
			if utf8.RuneCountInString(s) > maxDetail+1 {
				t.Fatalf("detail too long: %d runes", utf8.RuneCountInString(s))
			}
		}
		ec := errorContext{provider: "openai", label: "X", model: "m", apiKey: "KEY"}
		e := ec.fromHTTP(500, nil, body, nil)
		if strings.Contains(e.Message, "KEY") {
			t.Fatalf("key leaked: %q", e.Message)
		}
	})
}
