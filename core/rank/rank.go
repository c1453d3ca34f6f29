// Package rank holds the pure ranking functions behind memory search and the
// tool filter: tokenising, BM25 over a small in-memory corpus, vector
// similarity, reciprocal rank fusion, recency decay and maximal marginal
// relevance. Nothing here does I/O or keeps state beyond its arguments, so
// every function is tested on hand-built inputs.
package rank

import (
	"math"
	"strings"
	"time"
	"unicode"
)

// Tokenize splits s into lowercase runs of Unicode letters and digits;
// everything else separates tokens. It is the tokeniser for Go-side BM25 and
// Jaccard similarity, close to SQLite FTS5's unicode61 tokeniser.
func Tokenize(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, strings.ToLower(s[start:i]))
			start = -1
		}
	}
	if start >= 0 {
		out = append(out, strings.ToLower(s[start:]))
	}
	return out
}

// Dot returns the dot product of a and b over their common length. Vectors
// in Genos are unit length, so the dot product is their cosine similarity.
// The loop is unrolled by 8 with re-sliced windows so the compiler drops the
// bounds checks: brute-force search over 100k x 384 vectors spends nearly
// all its time here.
func Dot(a, b []float32) float32 {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+8 <= n; i += 8 {
		aa, bb := a[i:i+8:i+8], b[i:i+8:i+8]
		s0 += aa[0]*bb[0] + aa[4]*bb[4]
		s1 += aa[1]*bb[1] + aa[5]*bb[5]
		s2 += aa[2]*bb[2] + aa[6]*bb[6]
		s3 += aa[3]*bb[3] + aa[7]*bb[7]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return s0 + s1 + s2 + s3
}

// Normalize scales v in place to unit length and returns it; a zero vector
// is returned unchanged.
func Normalize(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// Decay returns the exponential recency weight of something age old with the
// given half-life: 1 at age 0, 0.5 at one half-life, 0.25 at two. A
// half-life <= 0 turns decay off (1), and a negative age (a clock skew, a
// future timestamp) counts as age 0.
func Decay(age, halfLife time.Duration) float64 {
	if halfLife <= 0 || age <= 0 {
		return 1
	}
	return math.Exp2(-float64(age) / float64(halfLife))
}

// Jaccard returns the Jaccard similarity of the token sets of a and b
// (|A∩B| / |A∪B|), 0 when both are empty.
func Jaccard(a, b []string) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0
	}
	set := make(map[string]uint8, len(a)+len(b))
	for _, t := range a {
		set[t] |= 1
	}
	for _, t := range b {
		set[t] |= 2
	}
	inter := 0
	for _, m := range set {
		if m == 3 {
			inter++
		}
	}
	return float64(inter) / float64(len(set))
}
