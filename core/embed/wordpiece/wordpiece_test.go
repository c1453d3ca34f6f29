package wordpiece

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testVocab is the vocab of google-research/bert's tokenization_test.py,
// extended with the README's "unaffable" pieces, accented and CJK tokens and
// [PAD].
var testVocab = []string{
	"[PAD]", "[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", ",", "low",
	"lowest", "##aff", "##able", "hello", "!", "how", "are", "you", "?", "博", "推", "ah", "zz", "hällo",
	"HeLLo", "Are", "yoU", "cafe", "café", "naive", "##s", "the", "[", "]", "cl", ".", "$", "5",
	"\u1112", "##\u1161", "##\u11ab", "\u03c3\u03bf\u03c6\u03bf\u03c2", "i", "##\u0307", "é", "東", "京",
}

func newTest(t testing.TB, o Options) *Tokenizer {
	t.Helper()
	tk, err := New(strings.NewReader(strings.Join(testVocab, "\n")+"\n"), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tk
}

func TestTokenize(t *testing.T) {
	t.Parallel()
	uncased := Options{Lowercase: true}
	cased := Options{}
	keep := Options{Lowercase: true, KeepAccents: true}
	tests := []struct {
		name string
		o    Options
		in   string
		want []string
	}{
		{"empty", uncased, "", nil},
		{"only spaces and controls", uncased, " \t\x00\x01\u200b\ufffd \n", nil},
		{"reference wordpiece", uncased, "unwanted running", []string{"un", "##want", "##ed", "runn", "##ing"}},
		{"unmatchable word is one unk", uncased, "unwantedX running", []string{"[UNK]", "runn", "##ing"}},
		{"readme unaffable", uncased, "unaffable", []string{"un", "##aff", "##able"}},
		{"reference full tokenizer", uncased, "UNwant\u00E9d,running", []string{"un", "##want", "##ed", ",", "runn", "##ing"}},
		{"reference lower", uncased, " \tHeLLo!how  \n Are yoU?  ", []string{"hello", "!", "how", "are", "you", "?"}},
		{"reference no lower", cased, " \tHeLLo!how  \n Are yoU?  ", []string{"HeLLo", "!", "how", "Are", "yoU", "?"}},
		{"reference accents stripped", uncased, "H\u00E9llo", []string{"hello"}},
		{"accents kept", keep, "HäLLo!how", []string{"hällo", "!", "how"}},
		{"decomposed accent stripped", uncased, "Cafe\u0301 NAÏVE", []string{"cafe", "naive"}},
		{"cased keeps accents", cased, "café", []string{"café"}},
		{"reference chinese", uncased, "ah\u535A\u63A8zz", []string{"ah", "博", "推", "zz"}},
		{"cjk without spaces", cased, "東京", []string{"東", "京"}},
		{"ascii symbols are punctuation", uncased, "$5.", []string{"$", "5", "."}},
		{"specials in text are plain text", uncased, "[CLS]", []string{"[", "cl", "##s", "]"}},
		{"unicode whitespace and punctuation", uncased, "how\u3000are\u00a0you\u3002", []string{"how", "are", "you", "[UNK]"}},
		{"hangul decomposes when stripping", uncased, "\ud55c", []string{"\u1112", "##\u1161", "##\u11ab"}},
		{"final sigma", uncased, "\u03a3\u039f\u03a6\u039f\u03a3", []string{"\u03c3\u03bf\u03c6\u03bf\u03c2"}},
		{"lone sigma", keep, "Σ", []string{"[UNK]"}},
		{"dotted capital i keeps its dot", keep, "\u0130", []string{"i", "##\u0307"}},
		{"invalid utf-8 dropped", uncased, "how\xffare", []string{"[UNK]"}},
		{"word over 100 chars", uncased, strings.Repeat("a", MaxWordChars+1) + " how", []string{"[UNK]", "how"}},
		{"word of 100 chars", uncased, "un" + strings.Repeat("s", MaxWordChars-2), append([]string{"un"}, repeat("##s", MaxWordChars-2)...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := newTest(t, tc.o).Tokenize(tc.in)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Tokenize(%q) (-want +got):\n%s", tc.in, d)
			}
		})
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestEncode(t *testing.T) {
	t.Parallel()
	tk := newTest(t, Options{Lowercase: true})
	tests := []struct {
		name   string
		in     string
		maxLen int
		want   []int64
	}{
		// [CLS]=2 [SEP]=3; un=8 ##want=5 ##ed=6 ,=11 runn=9 ##ing=10.
		{"reference ids", "UNwant\u00E9d,running", 16, []int64{2, 8, 5, 6, 11, 9, 10, 3}},
		{"truncated mid-word", "UNwant\u00E9d,running", 4, []int64{2, 8, 5, 3}},
		{"only specials fit", "hello", 2, []int64{2, 3}},
		{"empty text", "", 8, []int64{2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tk.Encode(tc.in, tc.maxLen)
			if err != nil {
				t.Fatal(err)
			}
			want := Encoding{IDs: tc.want, AttentionMask: make([]int64, len(tc.want)), TypeIDs: make([]int64, len(tc.want))}
			for i := range want.AttentionMask {
				want.AttentionMask[i] = 1
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Encode(%q, %d) (-want +got):\n%s", tc.in, tc.maxLen, d)
			}
		})
	}
	if _, err := tk.Encode("x", 1); err == nil {
		t.Error("Encode with max length 1 succeeded")
	}
	if tk.PadID() != 0 || tk.VocabSize() != len(testVocab) || tk.Token(4) != "want" || tk.Token(-1) != "" || tk.Token(1e6) != "" {
		t.Errorf("PadID, VocabSize, Token = %d, %d, %q", tk.PadID(), tk.VocabSize(), tk.Token(4))
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		vocab string
		want  string
	}{
		{"empty", "", "empty"},
		{"missing specials", "[PAD]\n[UNK]\nhello\n", "lacks [CLS], [SEP]"},
		{"invalid utf-8", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n\xff\n", "line 5 is not valid UTF-8"},
		{"huge token", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n" + strings.Repeat("x", 2000), "line 5 is longer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(strings.NewReader(tc.vocab), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadCRLFAndDuplicates(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "vocab.txt")
	if err := os.WriteFile(path, []byte("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhi\r\nhi\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tk, err := Load(path, Options{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	e, err := tk.Encode("HI", 8)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{2, 5, 3}, e.IDs); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.txt"), Options{}); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestCharacterClasses(t *testing.T) {
	t.Parallel()
	// The reference's test_is_whitespace, test_is_control, test_is_punctuation.
	tests := []struct {
		r                     rune
		space, control, punct bool
	}{
		{' ', true, false, false}, {'\t', true, false, false}, {'\r', true, false, false}, {'\n', true, false, false},
		{'\u00A0', true, false, false}, {'A', false, false, false}, {'-', false, false, true},
		{'\u0005', false, true, false}, {'\u200b', false, true, false}, {'\U000F0000', false, true, false},
		{'$', false, false, true}, {'`', false, false, true}, {'.', false, false, true}, {'\u3002', false, false, true},
	}
	for _, tc := range tests {
		if isWhitespace(tc.r) != tc.space || isControl(tc.r) != tc.control || isPunct(tc.r) != tc.punct {
			t.Errorf("%U: whitespace, control, punct = %v, %v, %v; want %v, %v, %v", tc.r,
				isWhitespace(tc.r), isControl(tc.r), isPunct(tc.r), tc.space, tc.control, tc.punct)
		}
	}
}

func TestStripAccentsTable(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Ångström": "Angstrom", "\u212B": "A", "ǅ": "ǅ", "Ḱ": "K", "naïve": "naive", "plain": "plain", "ŀ": "ŀ",
		"ﬁ": "ﬁ", // compatibility decompositions are not canonical: kept
	}
	for in, want := range tests {
		if got := stripAccents(in); got != want {
			t.Errorf("stripAccents(%q) = %q, want %q", in, got, want)
		}
	}
	if nfdUnicodeVersion == "" {
		t.Error("no Unicode version recorded for the table")
	}
}
