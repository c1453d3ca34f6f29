package index

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/genos-project/genos/core/rank"
)

// TestDotMatchesReference checks the platform dot product against the pure
// Go one for every length around the unrolled block sizes.
func TestDotMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= 100; n++ {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		want, got := rank.Dot(a, b), dot(a, b)
		if math.Abs(float64(got-want)) > 1e-4*math.Max(1, math.Abs(float64(want))) {
			t.Errorf("n=%d: dot = %v, rank.Dot = %v", n, got, want)
		}
	}
	if got := dot([]float32{1, 2, 3}, []float32{4, 5}); got != 14 {
		t.Errorf("length mismatch: dot = %v, want 14", got)
	}
}

func TestDotI8(t *testing.T) {
	if !useInt8 {
		t.Skip("no int8 SIMD scan on this CPU")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for n := 0; n <= 100; n++ {
		a, b := make([]int8, n), make([]int8, n)
		var want int32
		for i := range a {
			a[i], b[i] = int8(r.IntN(255)-127), int8(r.IntN(255)-127)
			want += int32(a[i]) * int32(b[i])
		}
		if got := dotI8(a, b); got != want {
			t.Errorf("n=%d: dotI8 = %d, want %d", n, got, want)
		}
	}
	big := make([]int8, 384)
	for i := range big {
		big[i] = -127
	}
	if got, want := dotI8(big, big), int32(384*127*127); got != want {
		t.Errorf("extreme values: dotI8 = %d, want %d", got, want)
	}
}

func BenchmarkDot384(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, y := randUnit(r, 384), randUnit(r, 384)
	var s float32
	for b.Loop() {
		s += dot(x, y)
	}
	_ = s
}
