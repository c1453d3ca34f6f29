package session

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

const agent = "0123abcd"

func TestParseKeyValid(t *testing.T) {
	tests := []struct {
		in   string
		want Key
		str  string // canonical form when it differs from in
	}{
		{in: "agent:0123abcd:main", want: Key{AgentID: agent, Kind: KindMain}},
		{in: "AGENT:0123ABCD:MAIN", want: Key{AgentID: agent, Kind: KindMain}, str: "agent:0123abcd:main"},
		{in: "agent:0123abcd:telegram:direct:12345",
			want: Key{AgentID: agent, Kind: KindDirect, Channel: "telegram", Peer: "12345"}},
		{in: "agent:0123abcd:slack:direct:U0ABC:thread:1700.01",
			want: Key{AgentID: agent, Kind: KindDirect, Channel: "slack", Peer: "u0abc", Thread: "1700.01"},
			str:  "agent:0123abcd:slack:direct:u0abc:thread:1700.01"},
		{in: "agent:0123abcd:whatsapp:group:12036@g.us",
			want: Key{AgentID: agent, Kind: KindGroup, Channel: "whatsapp", Group: "12036@g.us"}},
		{in: "agent:0123abcd:discord:group:99:thread:7",
			want: Key{AgentID: agent, Kind: KindGroup, Channel: "discord", Group: "99", Thread: "7"}},
		{in: "agent:0123abcd:subagent:6f1c2a4e-8d3b-4c7a-9e2f-0a1b2c3d4e5f",
			want: Key{AgentID: agent, Kind: KindSubagent, ID: "6f1c2a4e-8d3b-4c7a-9e2f-0a1b2c3d4e5f"}},
		{in: "agent:0123abcd:cron:daily-digest", want: Key{AgentID: agent, Kind: KindCron, ID: "daily-digest"}},
		{in: "agent:0123abcd:signal:direct:ÉMILE", want: Key{AgentID: agent, Kind: KindDirect, Channel: "signal", Peer: "émile"},
			str: "agent:0123abcd:signal:direct:émile"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseKey(tt.in)
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseKey (-want +got):\n%s", d)
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if s := got.String(); s != str {
				t.Errorf("String() = %q, want %q", s, str)
			}
		})
	}
}

func TestParseKeyInvalid(t *testing.T) {
	tests := []struct {
		name, in, msg string
	}{
		{"empty", "", "empty"},
		{"too long", "agent:0123abcd:cron:" + strings.Repeat("x", MaxKeyLen), "longer than"},
		{"bad utf8", "agent:0123abcd:cron:\xff", "UTF-8"},
		{"no agent prefix", "user:0123abcd:main", `start with "agent:"`},
		{"only agent", "agent:0123abcd", "missing"},
		{"short agent id", "agent:0123abc:main", "8 lowercase hex"},
		{"non-hex agent id", "agent:0123abcz:main", "8 lowercase hex"},
		{"empty agent id", "agent::main", "8 lowercase hex"},
		{"main extra", "agent:0123abcd:main:x", "extra"},
		{"cron no id", "agent:0123abcd:cron", "cron key must be"},
		{"cron empty id", "agent:0123abcd:cron:", "empty id"},
		{"subagent extra", "agent:0123abcd:subagent:a:b", "subagent key must be"},
		{"channel short", "agent:0123abcd:telegram:direct", "channel key must be"},
		{"bad scope", "agent:0123abcd:telegram:dm:1", `"direct" or "group"`},
		{"empty channel", "agent:0123abcd::direct:1", "empty channel"},
		{"empty peer", "agent:0123abcd:telegram:direct:", "empty peer"},
		{"empty group", "agent:0123abcd:telegram:group:", "empty group"},
		{"empty thread", "agent:0123abcd:telegram:direct:1:thread:", "empty thread"},
		{"thread missing id", "agent:0123abcd:telegram:direct:1:thread", "only \":thread:<id>\""},
		{"not thread", "agent:0123abcd:telegram:direct:1:topic:2", "only \":thread:<id>\""},
		{"trailing colon", "agent:0123abcd:telegram:direct:1:thread:2:", "only \":thread:<id>\""},
		{"control char", "agent:0123abcd:telegram:direct:a\x01b", "control character"},
		{"newline", "agent:0123abcd:cron:a\nb", "control character"},
		{"format char", "agent:0123abcd:cron:a\u200eb", "control character"},
		{"space", "agent:0123abcd:cron:a b", "whitespace"},
		{"reserved channel", "agent:0123abcd:group:direct:1", "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKey(tt.in)
			if err == nil {
				t.Fatal("ParseKey succeeded")
			}
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("error %v does not wrap ErrInvalidKey", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestConstructorsAndValidate(t *testing.T) {
	tests := []struct {
		name  string
		key   Key
		str   string
		valid bool
	}{
		{"main", MainKey("0123ABCD"), "agent:0123abcd:main", true},
		{"direct", DirectKey(agent, "Telegram", "42"), "agent:0123abcd:telegram:direct:42", true},
		{"group thread", GroupKey(agent, "slack", "C1").WithThread("T9"), "agent:0123abcd:slack:group:c1:thread:t9", true},
		{"subagent", SubagentKey(agent, "u-1"), "agent:0123abcd:subagent:u-1", true},
		{"cron", CronKey(agent, "job"), "agent:0123abcd:cron:job", true},
		{"main with thread", MainKey(agent).WithThread("x"), "agent:0123abcd:main", false},
		{"peer with colon", DirectKey(agent, "matrix", "@a:b.org"), "agent:0123abcd:matrix:direct:@a:b.org", false},
		{"empty peer", DirectKey(agent, "telegram", ""), "agent:0123abcd:telegram:direct:", false},
		{"direct with group", Key{AgentID: agent, Kind: KindDirect, Channel: "x", Peer: "p", Group: "g"}, "agent:0123abcd:x:direct:p", false},
		{"unknown kind", Key{AgentID: agent, Kind: "weird"}, "", false},
		{"uppercase field", Key{AgentID: agent, Kind: KindCron, ID: "Job"}, "agent:0123abcd:cron:Job", false},
		{"reserved channel", DirectKey(agent, "main", "p"), "agent:0123abcd:main:direct:p", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s := tt.key.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
			err := tt.key.Validate()
			if (err == nil) != tt.valid {
				t.Fatalf("Validate() = %v, want valid=%v", err, tt.valid)
			}
			if tt.valid {
				back, err := ParseKey(tt.str)
				if err != nil {
					t.Fatalf("ParseKey(String()): %v", err)
				}
				if d := cmp.Diff(tt.key, back); d != "" {
					t.Errorf("round trip (-want +got):\n%s", d)
				}
			}
		})
	}
}

// randomKey builds a valid key from random parts, including non-ASCII ones.
func randomKey(r *rand.Rand) Key {
	alphabet := []rune("abcdefghijklmnopqrstuvwxyz0123456789-_.@+=/éüßλж日本€")
	seg := func() string {
		n := 1 + r.IntN(20)
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	hex := "0123456789abcdef"
	var id strings.Builder
	for range 8 {
		id.WriteByte(hex[r.IntN(16)])
	}
	a := id.String()
	var k Key
	switch r.IntN(5) {
	case 0:
		k = MainKey(a)
	case 1:
		k = DirectKey(a, "c"+seg(), seg())
	case 2:
		k = GroupKey(a, "c"+seg(), seg())
	case 3:
		k = SubagentKey(a, seg())
	default:
		k = CronKey(a, seg())
	}
	if (k.Kind == KindDirect || k.Kind == KindGroup) && r.IntN(2) == 0 {
		k = k.WithThread(seg())
	}
	return k
}

func TestKeyRoundTripProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		k := randomKey(r)
		if err := k.Validate(); err != nil {
			t.Fatalf("#%d: generated key %+v invalid: %v", i, k, err)
		}
		s := k.String()
		back, err := ParseKey(s)
		if err != nil {
			t.Fatalf("#%d: ParseKey(%q): %v", i, s, err)
		}
		if d := cmp.Diff(k, back); d != "" {
			t.Fatalf("#%d: round trip of %q (-want +got):\n%s", i, s, d)
		}
		// Upper-casing normalises back to the same key wherever case maps
		// back and forth (not for 'ß', which upper-cases to "SS").
		if upper := strings.ToUpper(s); strings.ToLower(upper) == s && len(upper) <= MaxKeyLen {
			up, err := ParseKey(upper)
			if err != nil {
				t.Fatalf("#%d: ParseKey(%q): %v", i, upper, err)
			}
			if d := cmp.Diff(k, up); d != "" {
				t.Fatalf("#%d: upper-cased round trip (-want +got):\n%s", i, d)
			}
		}
	}
}

func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		"agent:0123abcd:main",
		"agent:0123abcd:telegram:direct:42",
		"agent:0123abcd:slack:group:c1:thread:t9",
		"agent:0123abcd:subagent:6f1c2a4e-8d3b-4c7a-9e2f-0a1b2c3d4e5f",
		"agent:0123abcd:cron:job",
		"AGENT:0123ABCD:Telegram:DIRECT:ÉMILE",
		"agent:0123abcd::direct:1",
		"agent:0123abcd:x:direct:1:thread:",
		"agent:İİİİİİİİ:main",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("error does not wrap ErrInvalidKey: %v", err)
			}
			return
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("parsed key fails Validate: %v", err)
		}
		str := k.String()
		if len(str) > MaxKeyLen || !utf8.ValidString(str) {
			t.Fatalf("canonical form %q too long or invalid", str)
		}
		if str != strings.ToLower(s) {
			t.Fatalf("String() = %q, want lower-cased input %q", str, strings.ToLower(s))
		}
		back, err := ParseKey(str)
		if err != nil {
			t.Fatalf("ParseKey(String()): %v", err)
		}
		if d := cmp.Diff(k, back); d != "" {
			t.Fatalf("round trip (-want +got):\n%s", d)
		}
	})
}
