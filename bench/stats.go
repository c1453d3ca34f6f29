package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// summary holds order statistics of one sample of durations.
type summary struct {
	N                  int
	Min, P50, P99, Max time.Duration
	Mean               time.Duration
}

// summarize sorts a copy of d and computes its order statistics. An empty
// sample gives the zero summary.
func summarize(d []time.Duration) summary {
	if len(d) == 0 {
		return summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var total time.Duration
	for _, v := range s {
		total += v
	}
	return summary{
		N:    len(s),
		Min:  s[0],
		P50:  percentile(s, 50),
		P99:  percentile(s, 99),
		Max:  s[len(s)-1],
		Mean: total / time.Duration(len(s)),
	}
}

// percentile returns the p-th percentile (0 < p <= 100) of an ascending
// sample by the nearest-rank method: the smallest value with at least p% of
// the sample at or below it. Nearest rank never invents a value that was not
// measured, which matters for small samples such as 10 cold starts (its
// median of 10 is the 5th value). p <= 0 gives the minimum; an empty sample
// gives 0.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 || math.IsNaN(p) {
		return sorted[0]
	}
	if p >= 100 {
		return sorted[n-1]
	}
	// The epsilon keeps p*n that should be an integer (e.g. 50% of 10) from
	// rounding up to the next rank through floating-point error.
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// fmtDur renders a duration in milliseconds with a precision that suits its
// size, so table cells stay short and comparable.
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch a := math.Abs(ms); {
	case a < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case a < 1000:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f s", ms/1000)
	}
}

// fmtMiB renders a byte count in MiB.
func fmtMiB(bytes int64) string {
	return fmt.Sprintf("%.1f MiB", float64(bytes)/(1<<20))
}
