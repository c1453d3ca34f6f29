package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func allCategories(m Mode) map[string]Mode {
	out := map[string]Mode{}
	for _, c := range knownCategories {
		out[c] = m
	}
	return out
}

func TestChannelToolRules(t *testing.T) {
	permissive := Rules{
		Categories: allCategories(ModeAllow),
		Tools:      map[string]Mode{"shell": ModeAllow, "web_fetch": ModeAsk, "rm": ModeDeny, "typo": Mode("yes")},
	}
	tests := []struct {
		name      string
		base      Rules
		channel   string
		owner     bool
		overrides map[string]Mode
		wantCats  map[string]Mode // only the categories that matter to the case
		wantTools map[string]Mode // the whole Tools map
	}{
		{
			name: "defaults, owner", base: DefaultRules(), channel: "telegram", owner: true,
			wantCats:  map[string]Mode{"exec": ModeDeny, "read": ModeAllow, "network": ModeAsk, "config": ModeAsk},
			wantTools: map[string]Mode{},
		},
		{
			name: "defaults, stranger loses owner-only tools", base: DefaultRules(), channel: "telegram", owner: false,
			wantCats: map[string]Mode{"exec": ModeDeny, "config": ModeDeny, "write": ModeAllow},
			wantTools: map[string]Mode{"config": ModeDeny, "config_manage": ModeDeny, "channels_login": ModeDeny,
				"channels_logout": ModeDeny},
		},
		{
			name: "exec allowed in base is still denied", base: permissive, channel: "slack", owner: true,
			wantCats:  map[string]Mode{"exec": ModeDeny, "network": ModeAllow},
			wantTools: map[string]Mode{"web_fetch": ModeDeny, "rm": ModeDeny},
		},
		{
			name: "override cannot allow exec or loosen", base: DefaultRules(), channel: "discord", owner: true,
			overrides: map[string]Mode{"exec": ModeAllow, "network": ModeAllow, "config": ModeAllow, "shell": ModeAllow},
			wantCats:  map[string]Mode{"exec": ModeDeny, "network": ModeAsk, "config": ModeAsk},
			wantTools: map[string]Mode{},
		},
		{
			name: "overrides tighten", base: DefaultRules(), channel: "discord", owner: true,
			overrides: map[string]Mode{"read": ModeAsk, "network": ModeDeny, "memory_write": ModeAsk, "web_fetch": ModeDeny},
			wantCats:  map[string]Mode{"read": ModeAsk, "network": ModeDeny, "memory": ModeAllow},
			wantTools: map[string]Mode{"memory_write": ModeDeny, "web_fetch": ModeDeny},
		},
		{
			name: "invalid override mode counts as deny", base: DefaultRules(), channel: "discord", owner: true,
			overrides: map[string]Mode{"read": "nope", "tool_x": "nope", "": ModeDeny},
			wantCats:  map[string]Mode{"read": ModeDeny},
			wantTools: map[string]Mode{"tool_x": ModeDeny},
		},
		{
			name: "voice: no exec, write or reads", base: permissive, channel: VoiceChannel, owner: true,
			wantCats:  map[string]Mode{"exec": ModeDeny, "write": ModeDeny, "read": ModeDeny, "memory": ModeAllow},
			wantTools: map[string]Mode{"web_fetch": ModeDeny, "rm": ModeDeny},
		},
		{
			name: "missing and invalid categories become ask", channel: "telegram", owner: true,
			base:      Rules{Categories: map[string]Mode{"read": "maybe"}},
			wantCats:  map[string]Mode{"read": ModeAsk, "write": ModeAsk, "exec": ModeDeny},
			wantTools: map[string]Mode{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := cloneRules(tt.base)
			got := ChannelToolRules(tt.base, tt.channel, tt.owner, tt.overrides)
			if d := cmp.Diff(before, tt.base); d != "" {
				t.Errorf("base was modified (-before +after):\n%s", d)
			}
			if len(got.Categories) != len(knownCategories) {
				t.Errorf("result has %d categories, want all %d", len(got.Categories), len(knownCategories))
			}
			for c, want := range tt.wantCats {
				if got.Categories[c] != want {
					t.Errorf("category %s = %q, want %q", c, got.Categories[c], want)
				}
			}
			if d := cmp.Diff(tt.wantTools, got.Tools); d != "" {
				t.Errorf("tools (-want +got):\n%s", d)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("result does not validate: %v", err)
			}
		})
	}
}

func cloneRules(r Rules) Rules {
	out := Rules{}
	if r.Categories != nil {
		out.Categories = map[string]Mode{}
		for k, v := range r.Categories {
			out.Categories[k] = v
		}
	}
	if r.Tools != nil {
		out.Tools = map[string]Mode{}
		for k, v := range r.Tools {
			out.Tools[k] = v
		}
	}
	return out
}

// TestChannelToolRulesNeverLoosen checks, over every combination of base
// modes for a handful of tools and every category, that the channel rules
// are at least as strict as the base for every (tool, category) call, that
// exec is denied for every tool name, and that a stranger can never run an
// owner-only tool.
func TestChannelToolRulesNeverLoosen(t *testing.T) {
	modes := []Mode{ModeAllow, ModeAsk, ModeDeny, "bogus"}
	tools := []string{"shell", "web_fetch", "config", "channels_login", "unlisted"}
	overrideSets := []map[string]Mode{nil, {"network": ModeAllow, "shell": ModeAllow}, {"exec": ModeAllow, "read": ModeDeny}}
	for _, catMode := range modes {
		for _, toolMode := range modes {
			base := Rules{Categories: allCategories(catMode), Tools: map[string]Mode{}}
			for _, tool := range tools[:4] {
				base.Tools[tool] = toolMode
			}
			for _, ov := range overrideSets {
				for _, channel := range []string{"telegram", VoiceChannel} {
					for _, owner := range []bool{true, false} {
						got := ChannelToolRules(base, channel, owner, ov)
						for _, tool := range tools {
							for _, cat := range append(knownCategories, "unknown") {
								b, g := base.Mode(tool, cat), got.Mode(tool, cat)
								if strictness(g) < strictness(b) {
									t.Errorf("cat %q tool %q owner %v ov %v: %s -> %s looser", catMode, toolMode, owner, ov, b, g)
								}
								if cat == "exec" && g != ModeDeny {
									t.Errorf("exec tool %q on %s: %s", tool, channel, g)
								}
								if !owner && (IsOwnerOnlyTool(tool) || cat == OwnerOnlyCategory || cat == PrivateCategory) && g != ModeDeny {
									t.Errorf("stranger may use %q/%s: %s", tool, cat, g)
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestValidateToolOverrides(t *testing.T) {
	if err := ValidateToolOverrides(map[string]Mode{"network": ModeDeny, "web_fetch": ModeAsk}); err != nil {
		t.Errorf("valid overrides: %v", err)
	}
	if err := ValidateToolOverrides(nil); err != nil {
		t.Errorf("nil overrides: %v", err)
	}
	err := ValidateToolOverrides(map[string]Mode{"exec": ModeAllow, "": ModeDeny, "read": "sometimes"})
	for _, want := range []string{"overrides.exec: a channel override can only tighten", "empty category or tool name",
		`overrides.read: invalid mode "sometimes"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateToolOverrides = %v, missing %q", err, want)
		}
	}
}

func TestIsOwnerOnlyTool(t *testing.T) {
	for name, want := range map[string]bool{"config": true, "channels_login": true, "config_manage": true, "read": false, "": false} {
		if got := IsOwnerOnlyTool(name); got != want {
			t.Errorf("IsOwnerOnlyTool(%q) = %v, want %v", name, got, want)
		}
	}
}
