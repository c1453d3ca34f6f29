package rank

// Candidate is an item offered to MMR: its relevance score and what is needed
// to compare it with the items already picked.
type Candidate struct {
	// ID identifies the item.
	ID int64
	// Score is the item's relevance; MMR works best with scores in 0..1.
	Score float64
	// Vec is the item's unit-length embedding, or nil.
	Vec []float32
	// Text is used for token Jaccard similarity when either item lacks a
	// vector.
	Text string
}

// MMR picks up to n candidates by maximal marginal relevance: each step
// takes the candidate maximising lambda*Score - (1-lambda)*maxSim, where
// maxSim is its highest similarity to an already picked candidate. Similarity
// is the vectors' dot product (cosine) when both items have vectors of the
// same length, and the Jaccard similarity of their Tokenize'd Text
// otherwise. lambda is clamped to [0,1]: 1 is pure relevance order, 0 pure
// diversity. Ties go to the earlier candidate, so the result is
// deterministic. n <= 0 or n > len(candidates) picks all of them.
func MMR(candidates []Candidate, lambda float64, n int) []Candidate {
	lambda = min(max(lambda, 0), 1)
	if n <= 0 || n > len(candidates) {
		n = len(candidates)
	}
	toks := make([][]string, len(candidates))
	tokens := func(i int) []string {
		if toks[i] == nil {
			toks[i] = Tokenize(candidates[i].Text)
			if toks[i] == nil {
				toks[i] = []string{}
			}
		}
		return toks[i]
	}
	sim := func(i, j int) float64 {
		a, b := candidates[i].Vec, candidates[j].Vec
		if len(a) > 0 && len(a) == len(b) {
			return float64(Dot(a, b))
		}
		return Jaccard(tokens(i), tokens(j))
	}
	picked := make([]bool, len(candidates))
	maxSim := make([]float64, len(candidates))
	out := make([]Candidate, 0, n)
	last := -1
	for len(out) < n {
		best, bestVal := -1, 0.0
		for i := range candidates {
			if picked[i] {
				continue
			}
			if last >= 0 {
				if s := sim(i, last); len(out) == 1 || s > maxSim[i] {
					maxSim[i] = s
				}
			}
			v := lambda * candidates[i].Score
			if len(out) > 0 {
				v -= (1 - lambda) * maxSim[i]
			}
			if best < 0 || v > bestVal {
				best, bestVal = i, v
			}
		}
		picked[best] = true
		out = append(out, candidates[best])
		last = best
	}
	return out
}
