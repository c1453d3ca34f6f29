package rank

import "strings"

// stopwords are English function words. Over a small corpus (a few dozen
// tool descriptions, a short memory) even "for" or "the" keeps a noticeable
// BM25 weight, which would let documents match on grammar alone. The
// descriptions and prompts they are matched against are mostly English, so
// the list is English only.
var stopwords = map[string]bool{
	"a": true, "about": true, "all": true, "am": true, "an": true, "and": true, "any": true, "are": true,
	"as": true, "at": true, "be": true, "been": true, "but": true, "by": true, "can": true, "could": true,
	"do": true, "does": true, "for": true, "from": true, "had": true, "has": true, "have": true, "how": true,
	"i": true, "if": true, "in": true, "into": true, "is": true, "it": true, "its": true, "me": true,
	"my": true, "no": true, "not": true, "of": true, "on": true, "or": true, "our": true, "please": true,
	"so": true, "some": true, "that": true, "the": true, "their": true, "them": true, "then": true,
	"there": true, "these": true, "this": true, "to": true, "us": true, "was": true, "we": true,
	"were": true, "what": true, "when": true, "where": true, "which": true, "who": true, "why": true,
	"will": true, "with": true, "would": true, "you": true, "your": true,
}

// ContentWords returns the tokens of s (see Tokenize) that are not English
// function words, joined by spaces: BM25 query text that matches on meaning
// rather than grammar. It is empty when s holds nothing else.
func ContentWords(s string) string {
	var keep []string
	for _, w := range Tokenize(s) {
		if !stopwords[w] {
			keep = append(keep, w)
		}
	}
	return strings.Join(keep, " ")
}
