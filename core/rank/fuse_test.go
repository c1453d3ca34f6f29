package rank

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestRRF(t *testing.T) {
	approx := cmpopts.EquateApprox(0, 1e-12)
	tests := []struct {
		name  string
		k     float64
		lists [][]int64
		want  []Fused
	}{
		{"no lists", 60, nil, nil},
		{"one list keeps order", 60, [][]int64{{7, 3, 9}}, []Fused{
			{ID: 7, Score: 1.0 / 61, Ranks: []int{1}},
			{ID: 3, Score: 1.0 / 62, Ranks: []int{2}},
			{ID: 9, Score: 1.0 / 63, Ranks: []int{3}},
		}},
		{"item in both lists wins", 60, [][]int64{{1, 2}, {3, 2}}, []Fused{
			{ID: 2, Score: 2.0 / 62, Ranks: []int{2, 2}},
			{ID: 1, Score: 1.0 / 61, Ranks: []int{1, 0}},
			{ID: 3, Score: 1.0 / 61, Ranks: []int{0, 1}},
		}},
		{"default k", 0, [][]int64{{5}}, []Fused{{ID: 5, Score: 1.0 / 61, Ranks: []int{1}}}},
		{"small k", 1, [][]int64{{4, 8}}, []Fused{
			{ID: 4, Score: 0.5, Ranks: []int{1}},
			{ID: 8, Score: 1.0 / 3, Ranks: []int{2}},
		}},
		{"duplicate in one list counts once at best rank", 60, [][]int64{{1, 1, 2}}, []Fused{
			{ID: 1, Score: 1.0 / 61, Ranks: []int{1}},
			{ID: 2, Score: 1.0 / 63, Ranks: []int{3}},
		}},
		{"ties broken by earlier list then id", 60, [][]int64{{20, 10}, {30, 40}}, []Fused{
			{ID: 20, Score: 1.0 / 61, Ranks: []int{1, 0}},
			{ID: 30, Score: 1.0 / 61, Ranks: []int{0, 1}},
			{ID: 10, Score: 1.0 / 62, Ranks: []int{2, 0}},
			{ID: 40, Score: 1.0 / 62, Ranks: []int{0, 2}},
		}},
		{"a consistent runner-up beats a single first place", 60, [][]int64{{1, 2, 3}, {4, 2, 5}, {6, 2, 1}}, []Fused{
			{ID: 2, Score: 3.0 / 62, Ranks: []int{2, 2, 2}},
			{ID: 1, Score: 1.0/61 + 1.0/63, Ranks: []int{1, 0, 3}},
			{ID: 4, Score: 1.0 / 61, Ranks: []int{0, 1, 0}},
			{ID: 6, Score: 1.0 / 61, Ranks: []int{0, 0, 1}},
			{ID: 3, Score: 1.0 / 63, Ranks: []int{3, 0, 0}},
			{ID: 5, Score: 1.0 / 63, Ranks: []int{0, 3, 0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, RRF(tt.k, tt.lists...), approx); diff != "" {
				t.Errorf("RRF mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRRFDeterministic(t *testing.T) {
	a, b := []int64{9, 8, 7, 6, 5}, []int64{5, 6, 7, 8, 9}
	first := RRF(60, a, b)
	for range 20 {
		if diff := cmp.Diff(first, RRF(60, a, b)); diff != "" {
			t.Fatalf("RRF not deterministic:\n%s", diff)
		}
	}
}

func TestRRFMax(t *testing.T) {
	if got, want := RRFMax(60, 2), 2.0/61; math.Abs(got-want) > 1e-15 {
		t.Errorf("RRFMax(60,2) = %v, want %v", got, want)
	}
	if got, want := RRFMax(0, 1), 1.0/61; math.Abs(got-want) > 1e-15 {
		t.Errorf("RRFMax(0,1) = %v, want %v", got, want)
	}
	top := RRF(60, []int64{1}, []int64{1})[0].Score
	if math.Abs(top/RRFMax(60, 2)-1) > 1e-12 {
		t.Errorf("first in both lists normalises to %v, want 1", top/RRFMax(60, 2))
	}
}
