package policy

import (
	"strings"
	"testing"
)

func TestDefaultRules(t *testing.T) {
	t.Parallel()
	r := DefaultRules()
	if err := r.Validate(); err != nil {
		t.Fatalf("DefaultRules invalid: %v", err)
	}
	want := map[string]Mode{
		"read": ModeAllow, "write": ModeAllow, "memory": ModeAllow, "sessions": ModeAllow,
		"exec": ModeAsk, "network": ModeAsk, "messaging": ModeAsk, "config": ModeAsk,
	}
	for cat, m := range want {
		if got := r.Mode("some_tool", cat); got != m {
			t.Errorf("Mode(some_tool, %s) = %q, want %q", cat, got, m)
		}
	}
}

func TestRulesMode(t *testing.T) {
	t.Parallel()
	r := Rules{
		Categories: map[string]Mode{"read": ModeAllow, "exec": ModeDeny, "network": "bogus"},
		Tools:      map[string]Mode{"web_fetch": ModeAllow, "ls": ModeDeny, "weird": "nope", "custom": ModeAllow},
	}
	tests := []struct {
		tool, category string
		want           Mode
	}{
		{"read", "read", ModeAllow},
		{"exec", "exec", ModeDeny},
		{"ls", "read", ModeDeny},            // tool rule beats category allow
		{"web_fetch", "network", ModeAllow}, // tool rule beats category
		{"other_net", "network", ModeAsk},   // invalid category mode -> ask
		{"weird", "read", ModeAllow},        // invalid tool mode falls back to category
		{"write", "write", ModeAsk},         // no rule for the category -> ask
		{"mystery", "teleport", ModeAsk},    // unknown category -> ask
		{"mystery", "", ModeAsk},            // empty category -> ask
		{"custom", "teleport", ModeAllow},   // explicit tool rule still wins
	}
	for _, tt := range tests {
		t.Run(tt.tool+"/"+tt.category, func(t *testing.T) {
			t.Parallel()
			if got := r.Mode(tt.tool, tt.category); got != tt.want {
				t.Errorf("Mode(%q, %q) = %q, want %q", tt.tool, tt.category, got, tt.want)
			}
		})
	}
	var zero Rules
	if got := zero.Mode("read", "read"); got != ModeAsk {
		t.Errorf("zero Rules Mode = %q, want ask", got)
	}
}

func TestRulesValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rules Rules
		want  []string // substrings; empty means valid
	}{
		{name: "empty is valid", rules: Rules{}},
		{name: "tools only", rules: Rules{Tools: map[string]Mode{"exec": ModeDeny}}},
		{name: "bad category mode", rules: Rules{Categories: map[string]Mode{"exec": "maybe"}},
			want: []string{`categories.exec: invalid mode "maybe"`}},
		{name: "unknown category", rules: Rules{Categories: map[string]Mode{"teleport": ModeAllow}},
			want: []string{`unknown category "teleport"`}},
		{name: "empty tool name", rules: Rules{Tools: map[string]Mode{"": ModeAllow}},
			want: []string{"empty tool name"}},
		{name: "every problem reported", rules: Rules{
			Categories: map[string]Mode{"teleport": "x", "read": ""},
			Tools:      map[string]Mode{"exec": "ALLOW"},
		}, want: []string{`unknown category "teleport"`, `categories.teleport: invalid mode "x"`,
			`categories.read: invalid mode ""`, `tools.exec: invalid mode "ALLOW"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.rules.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want errors %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestModeValid(t *testing.T) {
	t.Parallel()
	for m, want := range map[Mode]bool{ModeAllow: true, ModeAsk: true, ModeDeny: true, "": false, "Allow": false} {
		if m.Valid() != want {
			t.Errorf("%q.Valid() = %v, want %v", m, !want, want)
		}
	}
}
