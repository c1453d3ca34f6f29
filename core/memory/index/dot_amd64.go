package index

import (
	"golang.org/x/sys/cpu"

	"github.com/genos-project/genos/core/rank"
)

// hasAVX2 reports whether the CPU (and OS) support AVX2 with FMA.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func dotI8AVX2(a, b *int8, n int) int32

// useInt8 reports whether the vector scan runs over int8 copies first (see
// vectors.top): only with SIMD, as the pure Go int8 loop is slower than the
// float32 one.
var useInt8 = hasAVX2

// dotI8 is the int8 inner product for the quantised scan.
func dotI8(a, b []int8) int32 {
	n := min(len(a), len(b))
	if n == 0 {
		return 0
	}
	return dotI8AVX2(&a[0], &b[0], n)
}

// dot is the vector scan's inner product: AVX2/FMA assembly where the CPU
// has it (about 8x the pure Go loop, which is compute bound at ~110 ns per
// 384-dim vector), rank.Dot elsewhere.
func dot(a, b []float32) float32 {
	n := min(len(a), len(b))
	if !hasAVX2 || n == 0 {
		return rank.Dot(a, b)
	}
	return dotAVX2(&a[0], &b[0], n)
}
