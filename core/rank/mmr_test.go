package rank

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ids(cs []Candidate) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func TestMMR(t *testing.T) {
	// 1 and 2 are near duplicates (cosine 0.99); 3 is orthogonal to both.
	dup := []Candidate{
		{ID: 1, Score: 1.0, Vec: []float32{1, 0}},
		{ID: 2, Score: 0.95, Vec: Normalize([]float32{0.99, 0.141})},
		{ID: 3, Score: 0.7, Vec: []float32{0, 1}},
	}
	textDup := []Candidate{
		{ID: 1, Score: 1.0, Text: "dentist appointment on tuesday"},
		{ID: 2, Score: 0.95, Text: "dentist appointment on tuesday morning"},
		{ID: 3, Score: 0.7, Text: "grocery list milk eggs"},
	}
	mixed := []Candidate{
		{ID: 1, Score: 1.0, Vec: []float32{1, 0}, Text: "alpha beta"},
		{ID: 2, Score: 0.95, Text: "alpha beta"}, // no vector: Jaccard with 1 is 1
		{ID: 3, Score: 0.7, Vec: []float32{0, 1}, Text: "gamma"},
	}
	tests := []struct {
		name   string
		in     []Candidate
		lambda float64
		n      int
		want   []int64
	}{
		{"empty", nil, 0.5, 3, []int64{}},
		{"lambda 1 is relevance order", dup, 1, 3, []int64{1, 2, 3}},
		{"vectors demote near duplicate", dup, 0.5, 3, []int64{1, 3, 2}},
		{"n limits", dup, 0.5, 2, []int64{1, 3}},
		{"n zero takes all", dup, 1, 0, []int64{1, 2, 3}},
		{"n over len takes all", dup, 1, 9, []int64{1, 2, 3}},
		{"lambda above 1 clamps", dup, 7, 3, []int64{1, 2, 3}},
		{"text fallback demotes near duplicate", textDup, 0.5, 3, []int64{1, 3, 2}},
		{"mixed uses jaccard when a vector is missing", mixed, 0.5, 2, []int64{1, 3}},
		{"ties keep input order", []Candidate{{ID: 5, Score: 0.5}, {ID: 4, Score: 0.5}}, 1, 2, []int64{5, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ids(MMR(tt.in, tt.lambda, tt.n))); diff != "" {
				t.Errorf("MMR mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMMRMaxSimIsOverAllPicked(t *testing.T) {
	// 4 is a duplicate of the first pick (1), not of the second (3); it must
	// still be penalised after 3 is picked.
	cs := []Candidate{
		{ID: 1, Score: 1.0, Vec: []float32{1, 0, 0}},
		{ID: 3, Score: 0.6, Vec: []float32{0, 1, 0}},
		{ID: 4, Score: 0.9, Vec: []float32{1, 0, 0}},
		{ID: 5, Score: 0.5, Vec: []float32{0, 0, 1}},
	}
	got := ids(MMR(cs, 0.5, 4))
	if diff := cmp.Diff([]int64{1, 3, 5, 4}, got); diff != "" {
		t.Errorf("MMR mismatch (-want +got):\n%s", diff)
	}
}
