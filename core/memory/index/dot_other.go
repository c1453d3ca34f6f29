//go:build !amd64

package index

import "github.com/genos-project/genos/core/rank"

// dot is the vector scan's inner product (pure Go on this architecture).
func dot(a, b []float32) float32 { return rank.Dot(a, b) }

// useInt8 is false: without SIMD the int8 scan is slower than float32.
const useInt8 = false

// dotI8 is the int8 inner product (unused here, see useInt8).
func dotI8(a, b []int8) int32 {
	var s int32
	for i := range min(len(a), len(b)) {
		s += int32(a[i]) * int32(b[i])
	}
	return s
}
