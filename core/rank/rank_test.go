package rank

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ,;  ", nil},
		{"Hello, World!", []string{"hello", "world"}},
		{"memory_search v2.1", []string{"memory", "search", "v2", "1"}},
		{"Ünïcode CAFÉ naïve", []string{"ünïcode", "café", "naïve"}},
		{"日本語 text", []string{"日本語", "text"}},
		{"e\u0301te", []string{"e\u0301te"}}, // combining mark stays inside the word
		{`"quoted" OR NOT`, []string{"quoted", "or", "not"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Tokenize(tt.in)); diff != "" {
				t.Errorf("Tokenize(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDot(t *testing.T) {
	tests := []struct {
		name string
		a, b []float32
		want float32
	}{
		{"empty", nil, nil, 0},
		{"orthogonal", []float32{1, 0}, []float32{0, 1}, 0},
		{"same unit", []float32{0.6, 0.8}, []float32{0.6, 0.8}, 1},
		{"opposite", []float32{1, 0, 0}, []float32{-1, 0, 0}, -1},
		{"unrolled tail", []float32{1, 2, 3, 4, 5}, []float32{1, 1, 1, 1, 1}, 15},
		{"unrolled body and tail", []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 2}, 65},
		{"length mismatch uses common prefix", []float32{1, 2, 3}, []float32{1, 1}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Dot(tt.a, tt.b); math.Abs(float64(got-tt.want)) > 1e-6 {
				t.Errorf("Dot = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	v := Normalize([]float32{3, 4})
	if diff := cmp.Diff([]float32{0.6, 0.8}, v, cmp.Comparer(func(a, b float32) bool { return math.Abs(float64(a-b)) < 1e-6 })); diff != "" {
		t.Errorf("Normalize mismatch (-want +got):\n%s", diff)
	}
	if z := Normalize([]float32{0, 0}); z[0] != 0 || z[1] != 0 {
		t.Errorf("Normalize(zero) = %v, want zero", z)
	}
}

func TestDecay(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name          string
		age, halfLife time.Duration
		want          float64
	}{
		{"off when half-life zero", 100 * day, 0, 1},
		{"off when half-life negative", 100 * day, -day, 1},
		{"fresh", 0, day, 1},
		{"future counts as fresh", -day, day, 1},
		{"one half-life", 30 * day, 30 * day, 0.5},
		{"two half-lives", 60 * day, 30 * day, 0.25},
		{"half a half-life", 15 * day, 30 * day, 1 / math.Sqrt2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decay(tt.age, tt.halfLife); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Decay(%v, %v) = %v, want %v", tt.age, tt.halfLife, got, tt.want)
			}
		})
	}
}

func TestJaccard(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		want float64
	}{
		{"both empty", nil, nil, 0},
		{"one empty", []string{"a"}, nil, 0},
		{"identical", []string{"a", "b"}, []string{"b", "a"}, 1},
		{"half", []string{"a", "b"}, []string{"b", "c"}, 1.0 / 3},
		{"duplicates are a set", []string{"a", "a", "b"}, []string{"a"}, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Jaccard(tt.a, tt.b); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Jaccard = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBM25(t *testing.T) {
	docs := []string{
		"send an email message to a contact",
		"read a file from the workspace",
		"search the web for pages",
		"email email email attachments",
		"",
	}
	m := NewBM25(docs, 0, -1)
	if m.Len() != len(docs) {
		t.Fatalf("Len = %d, want %d", m.Len(), len(docs))
	}
	t.Run("no match scores zero", func(t *testing.T) {
		for i, s := range m.Scores("weather forecast") {
			if s != 0 {
				t.Errorf("doc %d score %v, want 0", i, s)
			}
		}
	})
	t.Run("empty query", func(t *testing.T) {
		if diff := cmp.Diff(make([]float64, len(docs)), m.Scores("")); diff != "" {
			t.Errorf("mismatch:\n%s", diff)
		}
	})
	t.Run("matching docs ranked", func(t *testing.T) {
		s := m.Scores("Email!")
		if s[0] <= 0 || s[3] <= 0 {
			t.Fatalf("scores %v: docs 0 and 3 must match", s)
		}
		if s[3] <= s[0] {
			t.Errorf("scores %v: higher term frequency must score higher", s)
		}
		if s[1] != 0 || s[2] != 0 || s[4] != 0 {
			t.Errorf("scores %v: non-matching docs must be 0", s)
		}
	})
	t.Run("rare term outweighs common term", func(t *testing.T) {
		s := m.Scores("workspace a")
		if s[1] <= s[0] {
			t.Errorf("scores %v: doc 1 (rare term) must beat doc 0 (common term only)", s)
		}
	})
	t.Run("repeated query terms count once", func(t *testing.T) {
		if diff := cmp.Diff(m.Scores("file"), m.Scores("file file FILE")); diff != "" {
			t.Errorf("mismatch:\n%s", diff)
		}
	})
	t.Run("known value", func(t *testing.T) {
		// One doc "a b", one doc "c": query "c" on doc 1.
		// idf = ln(1 + (2-1+0.5)/(1+0.5)) = ln 2; avgLen 1.5, len 1;
		// tf part = 1*2.2/(1 + 1.2*(0.25 + 0.75/1.5)) = 2.2/1.9.
		got := NewBM25([]string{"a b", "c"}, 1.2, 0.75).Scores("c")[1]
		want := math.Ln2 * 2.2 / 1.9
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("score = %v, want %v", got, want)
		}
	})
	t.Run("empty corpus", func(t *testing.T) {
		if got := NewBM25(nil, 1.2, 0.75).Scores("x"); len(got) != 0 {
			t.Errorf("Scores = %v, want empty", got)
		}
	})
}

func TestContentWords(t *testing.T) {
	for in, want := range map[string]string{
		"What is the weather in Lisbon?": "weather lisbon",
		"thanks, that is all":            "thanks",
		"Is it?":                         "",
		"Book flight LH 1234":            "book flight lh 1234",
	} {
		if got := ContentWords(in); got != want {
			t.Errorf("ContentWords(%q) = %q, want %q", in, got, want)
		}
	}
}
