package agent

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSummaryJSON(t *testing.T) {
	valid := summaryJSON("a")
	tests := []struct {
		name, in string
		wantErr  string
	}{
		{"valid", valid, ""},
		{"fenced", "```json\n" + valid + "\n```", ""},
		{"unclosed fence", "```json\n" + valid, "fence"},
		{"empty", "  ", "empty"},
		{"prose", "Here it is: " + valid, "not a JSON object"},
		{"trailing", valid + " thanks", "after the JSON"},
		{"null", "null", "null"},
		{"missing", `{"facts_and_decisions":[]}`, `missing key "current_state"`},
		{"unknown", strings.Replace(valid, `"constraints"`, `"rules"`, 1), `unknown key "rules"`},
		{"not array", strings.Replace(valid, `["prefers trains"]`, `"prefers trains"`, 1), "not an array"},
		{"null array", strings.Replace(valid, `["prefers trains"]`, `null`, 1), "not an array"},
		{"non-string", strings.Replace(valid, `["prefers trains"]`, `[1]`, 1), "non-string"},
		{"null item", strings.Replace(valid, `["prefers trains"]`, `[null]`, 1), "non-string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSummaryJSON(tt.in)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSummaryTOONRoundTrip(t *testing.T) {
	s := Summary{
		FactsAndDecisions: []string{"a, b", "true", "42", "- dash", "quote \" and \\ slash", "line\nbreak"},
		CurrentState:      []string{},
		Constraints:       []string{"ünïcode ✓"},
		OpenQuestions:     []string{""},
		Preferences:       []string{"x: y"},
		NextSteps:         []string{"[1]"},
	}
	enc, err := s.TOON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSummary(enc)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, enc)
	}
	want := s
	want.OpenQuestions = []string{} // blank items are dropped
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s\n%s", diff, enc)
	}
	if _, err := DecodeSummary("facts_and_decisions[0]:"); err == nil {
		t.Fatal("a summary missing sections decoded")
	}
}

func FuzzParseSummaryJSON(f *testing.F) {
	f.Add(summaryJSON("a", "b"))
	f.Add("```json\n" + summaryJSON() + "\n```")
	f.Add(`{"facts_and_decisions":[1]}`)
	f.Add("not json")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := parseSummaryJSON(in)
		if err != nil {
			return
		}
		// Whatever validates must survive the TOON round trip unchanged.
		enc, err := s.TOON()
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		got, err := DecodeSummary(enc)
		if err != nil {
			t.Fatalf("decode: %v\n%s", err, enc)
		}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}
