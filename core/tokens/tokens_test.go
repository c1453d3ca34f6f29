package tokens

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestEstimate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"empty", "", 0},
		{"one short word", "the", 1},
		{"seven letters is one token", "session", 1},
		{"eight letters is two tokens", "sessions", 2},
		{"long word", "internationalization", 4},
		{"sentence", "The quick brown fox jumps over the lazy dog.", 10},
		{"single spaces are free", "a b c", 3},
		{"line break costs one", "a\nb", 3},
		{"indentation run costs one", "a\n    b", 3},
		{"digits grouped by three", "2026", 2},
		{"six digits", "100000", 2},
		{"three digits", "123", 1},
		{"punctuation separated by spaces", "a, b; c!", 6},
		{"punctuation run grouped by three", `":"`, 1},
		{"four punctuation", `"},"`, 2},
		{"json", `{"a":1}`, 5},
		{"cjk per rune plus a quarter", "你好世界", 5},
		{"accented latin per non-ascii rune", "café", 2},
		{"emoji", "ok 👍", 2},
		{"non-breaking space is free", "a\u00a0b", 2},
		{"invalid utf8 byte counts", "a\xffb", 3},
		{"only whitespace", "   ", 1},
		{"identifier", "memory_search2", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Estimate(tt.in); got != tt.want {
				t.Errorf("Estimate(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

// TestEstimateCalibration holds the estimate against real cl100k_base counts
// of the samples in testdata/calibration (counted with js-tiktoken 1.0.21):
// never below the real count, and within the stated margin above it.
func TestEstimateCalibration(t *testing.T) {
	tests := []struct {
		file      string
		cl100k    int
		maxOverPc int
	}{
		{"prose.txt", 153, 15},
		{"markdown.md", 280, 15},
		{"code.go.txt", 275, 25},
		{"schema.json", 79, 25},
		{"multilingual.txt", 69, 25},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "calibration", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got := Estimate(string(b))
			if limit := tt.cl100k * (100 + tt.maxOverPc) / 100; got < tt.cl100k || got > limit {
				t.Errorf("Estimate(%s) = %d, want between %d (cl100k) and %d", tt.file, got, tt.cl100k, limit)
			}
		})
	}
}

func TestEstimateConcat(t *testing.T) {
	parts := []string{"hello", " world", ", 12345", "\n\n", "ünïcode", "{}", "ab"}
	for _, a := range parts {
		for _, b := range parts {
			// Joining two texts can merge runs, which never costs more than
			// the parts did separately plus nothing, and saves at most a few.
			if got, sum := Estimate(a+b), Estimate(a)+Estimate(b); got > sum || got < sum-2 {
				t.Errorf("Estimate(%q+%q) = %d, parts sum %d", a, b, got, sum)
			}
		}
	}
}

func TestEstimateJSON(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want int
	}{
		{"map", map[string]int{"a": 1}, 5},
		{"raw message used verbatim", json.RawMessage(`{"a":1}`), 5},
		{"nil", nil, 1}, // "null"
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EstimateJSON(tt.in); got != tt.want {
				t.Errorf("EstimateJSON(%v) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
	t.Run("unencodable falls back to fmt", func(t *testing.T) {
		if got := EstimateJSON(make(chan int)); got <= 0 {
			t.Errorf("EstimateJSON(chan) = %d, want > 0", got)
		}
	})
}
