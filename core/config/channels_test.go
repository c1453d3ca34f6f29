package config

import (
	"strings"
	"testing"
)

func TestChannelValidation(t *testing.T) {
	tests := []struct {
		name string
		ch   map[string]Channel
		want string // substring of the error; "" = valid
	}{
		{"telegram with token", map[string]Channel{"telegram": {Enabled: true, TokenRef: "telegram.token"}}, ""},
		{"telegram without token", map[string]Channel{"telegram": {Enabled: true}}, "channels.telegram.tokenRef"},
		{"unknown channel", map[string]Channel{"irc": {}}, `channels["irc"]`},
		{"open without star", map[string]Channel{"whatsapp": {DM: DMOpen}}, `requires "*"`},
		{"open with star", map[string]Channel{"whatsapp": {DM: DMOpen, AllowFrom: []string{"*"}}}, ""},
		{"bad dm", map[string]Channel{"whatsapp": {DM: "everyone"}}, "channels.whatsapp.dm"},
		{"bad group", map[string]Channel{"whatsapp": {Group: "all"}}, "channels.whatsapp.group"},
		{"loosening tool policy", map[string]Channel{"telegram": {TokenRef: "t", ToolPolicy: map[string]string{"exec": "allow"}}}, "can only tighten"},
		{"tightening tool policy", map[string]Channel{"telegram": {TokenRef: "t", ToolPolicy: map[string]string{"write": "deny"}}}, ""},
		{"id with space", map[string]Channel{"telegram": {TokenRef: "t", AllowFrom: []string{"a b"}}}, "without spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Channels = tt.ch
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestChannelsCloneIsDeep(t *testing.T) {
	c := Default()
	c.Channels = map[string]Channel{"telegram": {TokenRef: "t", AllowFrom: []string{"1"}}}
	cp := c.clone()
	cp.Channels["telegram"].AllowFrom[0] = "2"
	if c.Channels["telegram"].AllowFrom[0] != "1" {
		t.Fatal("clone shares the allowlist")
	}
}
