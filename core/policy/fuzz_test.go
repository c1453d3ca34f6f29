package policy

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzPairingInput feeds outside text to the two parsers of the pairing
// path: display names from platforms (cleanName) and codes typed by the
// owner (normalizeCode).
func FuzzPairingInput(f *testing.F) {
	for _, s := range []string{"Alice", "abcd2345", " ABCD2345 ", "evil\u202ename\n", "\xff\xfe", "0O1Iabcd", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name := cleanName(s)
		if !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameRunes {
			t.Fatalf("cleanName(%q) = %q: invalid or too long", s, name)
		}
		for _, r := range name {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("cleanName(%q) kept control rune %U", s, r)
			}
		}
		if name != strings.TrimSpace(name) || cleanName(name) != name {
			t.Fatalf("cleanName(%q) = %q is not stable", s, name)
		}
		if code, err := normalizeCode(s); err == nil && !codePattern.MatchString(code) {
			t.Fatalf("normalizeCode(%q) accepted %q", s, code)
		}
	})
}
