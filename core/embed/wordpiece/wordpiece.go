// Package wordpiece is BERT's tokenizer in pure Go: the basic tokenizer
// (text cleaning, whitespace and punctuation splitting, CJK characters as
// single tokens, optional lowercasing and accent stripping for uncased
// models) followed by greedy longest-match-first WordPiece over a vocab.txt,
// as in google-research/bert's tokenization.py. The local ONNX embedder uses
// it to turn text into model inputs.
//
// Special tokens written in the text ("[CLS]", "[SEP]"...) are tokenized as
// ordinary text, as the reference does, so user text cannot forge them.
package wordpiece

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds.
const (
	// MaxWordChars is the longest word (in characters) WordPiece splits;
	// longer ones become [UNK], as in the reference.
	MaxWordChars  = 100
	maxVocabBytes = 64 << 20
	maxVocabSize  = 1 << 22
	maxTokenBytes = 1024
)

// The special tokens every BERT vocab has.
const (
	ClsToken = "[CLS]"
	SepToken = "[SEP]"
	UnkToken = "[UNK]"
	PadToken = "[PAD]"
)

// Options select the basic tokenizer's behaviour.
type Options struct {
	// Lowercase folds case and, unless KeepAccents, strips accents: what
	// uncased models (bert-base-uncased, all-MiniLM, bge-*-en) expect.
	Lowercase bool
	// KeepAccents keeps accents when lowercasing (tokenizers configured with
	// strip_accents=False).
	KeepAccents bool
}

// Tokenizer turns text into BERT input ids. It is immutable and safe for
// concurrent use.
type Tokenizer struct {
	vocab              map[string]int32
	tokens             []string // by id
	lower, strip       bool
	cls, sep, unk, pad int32
}

// Encoding is one encoded text: [CLS] pieces [SEP], unpadded.
type Encoding struct {
	IDs           []int64
	AttentionMask []int64 // all 1: nothing is padded yet
	TypeIDs       []int64 // all 0: a single segment
}

// Load reads the vocab.txt at path.
func Load(path string, o Options) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load vocab: %w", err)
	}
	defer f.Close()
	t, err := New(f, o)
	if err != nil {
		return nil, fmt.Errorf("load vocab %s: %w", path, err)
	}
	return t, nil
}

// New reads a vocab in vocab.txt form: one token per line, the line number
// (from 0) being its id. It must hold [CLS], [SEP], [UNK] and [PAD].
func New(vocab io.Reader, o Options) (*Tokenizer, error) {
	data, err := io.ReadAll(io.LimitReader(vocab, maxVocabBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read vocab: %w", err)
	}
	if len(data) > maxVocabBytes {
		return nil, fmt.Errorf("vocab is larger than %d MiB; is it really a vocab.txt?", maxVocabBytes>>20)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	if len(data) == 0 {
		return nil, errors.New("vocab is empty")
	}
	t := &Tokenizer{vocab: map[string]int32{}, lower: o.Lowercase, strip: o.Lowercase && !o.KeepAccents}
	for i, line := range bytes.Split(data, []byte("\n")) {
		if i >= maxVocabSize {
			return nil, fmt.Errorf("vocab has more than %d tokens", maxVocabSize)
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if !utf8.Valid(line) {
			return nil, fmt.Errorf("vocab line %d is not valid UTF-8", i+1)
		}
		if len(line) > maxTokenBytes {
			return nil, fmt.Errorf("vocab line %d is longer than %d bytes", i+1, maxTokenBytes)
		}
		tok := string(line)
		t.tokens = append(t.tokens, tok)
		if tok != "" {
			t.vocab[tok] = int32(i) // a repeated token keeps its last id, as in the reference
		}
	}
	var missing []string
	for _, sp := range []struct {
		name string
		id   *int32
	}{{ClsToken, &t.cls}, {SepToken, &t.sep}, {UnkToken, &t.unk}, {PadToken, &t.pad}} {
		id, ok := t.vocab[sp.name]
		if !ok {
			missing = append(missing, sp.name)
		}
		*sp.id = id
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("vocab lacks %s; is it a BERT vocab.txt?", strings.Join(missing, ", "))
	}
	return t, nil
}

// VocabSize is the number of ids.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// PadID is the id of [PAD], for padding a batch.
func (t *Tokenizer) PadID() int64 { return int64(t.pad) }

// Token returns the token of id, or "" when out of range.
func (t *Tokenizer) Token(id int64) string {
	if id < 0 || id >= int64(len(t.tokens)) {
		return ""
	}
	return t.tokens[id]
}

// Tokenize returns the WordPiece tokens of text, without [CLS] and [SEP].
func (t *Tokenizer) Tokenize(text string) []string {
	ids := t.ids(text, -1)
	if len(ids) == 0 {
		return nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.tokens[id]
	}
	return out
}

// Encode returns [CLS] + the ids of text + [SEP], keeping the first
// maxLen-2 pieces of a longer text. maxLen must be at least 2.
func (t *Tokenizer) Encode(text string, maxLen int) (Encoding, error) {
	if maxLen < 2 {
		return Encoding{}, fmt.Errorf("encode: max length %d leaves no room for [CLS] and [SEP]", maxLen)
	}
	ids := t.ids(text, maxLen-2)
	e := Encoding{
		IDs:           make([]int64, 0, len(ids)+2),
		AttentionMask: make([]int64, len(ids)+2),
		TypeIDs:       make([]int64, len(ids)+2),
	}
	e.IDs = append(e.IDs, int64(t.cls))
	for _, id := range ids {
		e.IDs = append(e.IDs, int64(id))
	}
	e.IDs = append(e.IDs, int64(t.sep))
	for i := range e.AttentionMask {
		e.AttentionMask[i] = 1
	}
	return e, nil
}

// ids tokenizes text, stopping after limit pieces (no limit when negative).
func (t *Tokenizer) ids(text string, limit int) []int32 {
	var out []int32
	var buf []byte
	for _, word := range t.basic(text) {
		if limit >= 0 && len(out) >= limit {
			break
		}
		out, buf = t.wordpiece(word, out, buf)
	}
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// wordpiece appends the pieces of one basic token: greedy longest match
// first, continuation pieces prefixed "##"; a word with an unmatchable part,
// or longer than MaxWordChars, is one [UNK].
func (t *Tokenizer) wordpiece(word string, dst []int32, buf []byte) ([]int32, []byte) {
	if utf8.RuneCountInString(word) > MaxWordChars {
		return append(dst, t.unk), buf
	}
	orig := len(dst)
	for start := 0; start < len(word); {
		found, end := int32(-1), len(word)
		for end > start {
			buf = buf[:0]
			if start > 0 {
				buf = append(buf, "##"...)
			}
			buf = append(buf, word[start:end]...)
			if id, ok := t.vocab[string(buf)]; ok {
				found = id
				break
			}
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found < 0 {
			return append(dst[:orig], t.unk), buf
		}
		dst = append(dst, found)
		start = end
	}
	return dst, buf
}

// basic is BERT's BasicTokenizer: clean, space out CJK characters, split on
// whitespace, optionally lowercase and strip accents, split punctuation.
func (t *Tokenizer) basic(text string) []string {
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range text {
		switch {
		case r == 0 || r == utf8.RuneError || isControl(r):
			// dropped; invalid UTF-8 decodes to RuneError and goes too
		case isWhitespace(r):
			b.WriteByte(' ')
		case isCJK(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	var out []string
	for _, word := range strings.Fields(b.String()) {
		if t.lower {
			word = lower(word)
			if t.strip {
				word = stripAccents(word)
			}
		}
		out = splitPunct(word, out)
	}
	return out
}

// splitPunct appends word split so that each punctuation character is a
// token of its own.
func splitPunct(word string, dst []string) []string {
	start := 0
	for i, r := range word {
		if !isPunct(r) {
			continue
		}
		if i > start {
			dst = append(dst, word[start:i])
		}
		n := i + utf8.RuneLen(r)
		dst = append(dst, word[i:n])
		start = n
	}
	if start < len(word) {
		dst = append(dst, word[start:])
	}
	return dst
}

// lower is Python's str.lower for one word: per-rune lowercase, with the
// two context rules it applies (İ becomes i + combining dot above; Σ at the
// end of a word becomes final ς).
func lower(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	prevLetter := false
	for i, r := range s {
		switch r {
		case 'İ':
			b.WriteString("i\u0307")
		case 'Σ':
			next, _ := utf8.DecodeRuneInString(s[i+len("Σ"):])
			if prevLetter && !unicode.IsLetter(next) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
		prevLetter = unicode.IsLetter(r)
	}
	return b.String()
}

func isWhitespace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.Zs, r)
}

// isControl is category C* (unassigned code points included, as Python's
// unicodedata reports them as Cn), except the whitespace controls.
func isControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isPunct is category P*, plus every non-alphanumeric printable ASCII
// character ($, +, ^, `...), which BERT treats as punctuation too.
func isPunct(r rune) bool {
	if (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126) {
		return true
	}
	return r > 127 && unicode.Is(unicode.P, r)
}

// isCJK reports CJK Unified Ideographs (and extensions and compatibility
// ideographs), the ranges BERT tokenizes character by character. Hiragana,
// Katakana and Hangul are not in them.
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
