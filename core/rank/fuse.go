package rank

import (
	"cmp"
	"slices"
)

// DefaultRRFK is the usual reciprocal rank fusion constant: large enough that
// the first few ranks of one list do not drown the others.
const DefaultRRFK = 60

// Fused is one item after reciprocal rank fusion.
type Fused struct {
	// ID is the item's identifier as it appeared in the input lists.
	ID int64
	// Score is the sum over lists of 1/(k + rank), rank counted from 1.
	Score float64
	// Ranks holds the item's 1-based rank in each input list, in list order;
	// 0 means the item is absent from that list.
	Ranks []int
}

// RRF fuses ranked lists of IDs (best first) by reciprocal rank: each list
// adds 1/(k + rank) to an item's score. k <= 0 takes DefaultRRFK. An ID
// repeated within one list counts at its first (best) rank only. The result
// is sorted by score, ties broken by best single rank, then by the earliest
// list that ranks the item best, then by ID, so it is deterministic.
func RRF(k float64, lists ...[]int64) []Fused {
	if k <= 0 {
		k = DefaultRRFK
	}
	idx := map[int64]int{}
	var out []Fused
	for li, list := range lists {
		for r, id := range list {
			i, ok := idx[id]
			if !ok {
				i = len(out)
				idx[id] = i
				out = append(out, Fused{ID: id, Ranks: make([]int, len(lists))})
			}
			if out[i].Ranks[li] != 0 {
				continue
			}
			out[i].Ranks[li] = r + 1
			out[i].Score += 1 / (k + float64(r+1))
		}
	}
	slices.SortFunc(out, func(a, b Fused) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		ra, la := bestRank(a.Ranks)
		rb, lb := bestRank(b.Ranks)
		if c := cmp.Compare(ra, rb); c != 0 {
			return c
		}
		if c := cmp.Compare(la, lb); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// RRFMax returns the best possible RRF score over n lists with constant k
// (rank 1 in every list), used to normalise fused scores to 0..1.
func RRFMax(k float64, n int) float64 {
	if k <= 0 {
		k = DefaultRRFK
	}
	return float64(n) / (k + 1)
}

// bestRank returns the smallest non-zero rank and the index of the first
// list holding it.
func bestRank(ranks []int) (rank, list int) {
	rank, list = int(^uint(0)>>1), len(ranks)
	for i, r := range ranks {
		if r != 0 && r < rank {
			rank, list = r, i
		}
	}
	return rank, list
}
