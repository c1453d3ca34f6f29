package wordpiece

import (
	"bytes"
	"testing"
	"unicode/utf8"
)

// FuzzEncode feeds arbitrary text through both tokenizer modes: nothing may
// panic, every encoding is [CLS] ... [SEP] within the length bound with
// valid ids and matching masks, and no piece exceeds its word's length.
func FuzzEncode(f *testing.F) {
	f.Add("UNwant\u00E9d,running", 8)
	f.Add("ah\u535A\u63A8zz \t\x00 HeLLo!", 4)
	f.Add("\xff\xfe\u0130\u03a3 \ud55c", 2)
	f.Add("", 3)
	uncased := newTest(f, Options{Lowercase: true})
	cased := newTest(f, Options{})
	f.Fuzz(func(t *testing.T, text string, maxLen int) {
		if maxLen < 2 || maxLen > 512 {
			maxLen = 2 + (maxLen%64+64)%64
		}
		for _, tk := range []*Tokenizer{uncased, cased} {
			e, err := tk.Encode(text, maxLen)
			if err != nil {
				t.Fatal(err)
			}
			n := len(e.IDs)
			if n < 2 || n > maxLen || len(e.AttentionMask) != n || len(e.TypeIDs) != n {
				t.Fatalf("lengths ids %d mask %d types %d, max %d", n, len(e.AttentionMask), len(e.TypeIDs), maxLen)
			}
			if e.IDs[0] != int64(tk.cls) || e.IDs[n-1] != int64(tk.sep) {
				t.Fatalf("ids %v do not start with [CLS] and end with [SEP]", e.IDs)
			}
			for i, id := range e.IDs {
				if id < 0 || id >= int64(tk.VocabSize()) || e.AttentionMask[i] != 1 || e.TypeIDs[i] != 0 {
					t.Fatalf("position %d: id %d mask %d type %d", i, id, e.AttentionMask[i], e.TypeIDs[i])
				}
			}
			for _, tok := range tk.Tokenize(text) {
				if tok == "" || !utf8.ValidString(tok) {
					t.Fatalf("bad token %q", tok)
				}
			}
		}
	})
}

// FuzzNew loads arbitrary bytes as a vocab.txt: a file the user installed
// may be anything. It must load or fail cleanly, and a loaded vocabulary
// must encode text without panicking.
func FuzzNew(f *testing.F) {
	f.Add([]byte("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##s\n"))
	f.Add([]byte("[UNK]\r\n[CLS]\r\n[SEP]\r\n\r\n"))
	f.Add([]byte("\x00\xff\n\n\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, vocab []byte) {
		tk, err := New(bytes.NewReader(vocab), Options{Lowercase: true})
		if err != nil {
			return
		}
		if _, err := tk.Encode("hellos world, UNwanted!", 16); err != nil {
			t.Fatalf("a loaded vocabulary failed to encode: %v", err)
		}
	})
}
