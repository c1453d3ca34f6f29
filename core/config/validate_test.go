package config

import (
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if c.Configured() {
		t.Error("Default() reports a configured model")
	}
	if c.Gateway.Bind != "127.0.0.1" || c.Gateway.Port != 18789 || c.Agent.Name != "main" || c.Logging.Level != "info" {
		t.Errorf("unexpected defaults: %+v", c)
	}
}

func TestConfigured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		provider, model string
		want            bool
	}{
		{"", "", false},
		{"openai", "", false},
		{"", "gpt-4.1", false},
		{"openai", "gpt-4.1", true},
	}
	for _, tt := range tests {
		c := Default()
		c.Model.Provider, c.Model.Model = tt.provider, tt.model
		if got := c.Configured(); got != tt.want {
			t.Errorf("Configured(%q, %q) = %v, want %v", tt.provider, tt.model, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string // substrings, one per expected problem; nil = valid
	}{
		{"defaults", func(c *Config) {}, nil},
		{"configured openai", func(c *Config) {
			c.Model = Model{Provider: "openai", Model: "gpt-4.1", BaseURL: "http://localhost:11434/v1",
				APIKeyRef: "model.apiKey", TimeoutSeconds: 60, MaxRetries: 2}
		}, nil},
		{"anthropic with env key", func(c *Config) {
			c.Model.Provider, c.Model.Model, c.Model.APIKeyEnv = "anthropic", "claude-sonnet-4-5", "ANTHROPIC_API_KEY"
		}, nil},
		{"bind localhost", func(c *Config) { c.Gateway.Bind = "localhost" }, nil},
		{"bind ipv6", func(c *Config) { c.Gateway.Bind = "::1" }, nil},
		{"bind all interfaces is allowed", func(c *Config) { c.Gateway.Bind = "0.0.0.0" }, nil},
		{"tool policy", func(c *Config) {
			c.Agent.ToolPolicy = map[string]string{"exec": "ask", "web_fetch": "deny", "read": "allow"}
		}, nil},

		{"version", func(c *Config) { c.Version = 0 }, []string{"version: must be 1, got 0"}},
		{"port zero", func(c *Config) { c.Gateway.Port = 0 }, []string{"gateway.port: must be 1-65535, got 0"}},
		{"port too big", func(c *Config) { c.Gateway.Port = 65536 }, []string{"gateway.port: must be 1-65535, got 65536"}},
		{"bind hostname", func(c *Config) { c.Gateway.Bind = "example.com" }, []string{"gateway.bind:"}},
		{"bind empty", func(c *Config) { c.Gateway.Bind = "" }, []string{"gateway.bind:"}},
		{"tick", func(c *Config) { c.Gateway.TickSeconds = -1 }, []string{"gateway.tickSeconds:"}},
		{"provider", func(c *Config) { c.Model.Provider, c.Model.Model = "gemini", "x" }, []string{"model.provider:"}},
		{"provider without model", func(c *Config) { c.Model.Provider = "openai" }, []string{"model.model: must be set"}},
		{"model with space", func(c *Config) { c.Model.Provider, c.Model.Model = "openai", "gpt 4" }, []string{"model.model: must not contain"}},
		{"model too long", func(c *Config) { c.Model.Model = strings.Repeat("m", 257) }, []string{"model.model: must be at most"}},
		{"base url scheme", func(c *Config) { c.Model.BaseURL = "ftp://host/v1" }, []string{"model.baseUrl: must start with http"}},
		{"base url no host", func(c *Config) { c.Model.BaseURL = "https:///v1" }, []string{"model.baseUrl: must include a host"}},
		{"base url relative", func(c *Config) { c.Model.BaseURL = "localhost:8080" }, []string{"model.baseUrl:"}},
		{"base url credentials", func(c *Config) { c.Model.BaseURL = "https://u:sk-123@host/v1" }, []string{"model.baseUrl: must not contain credentials"}},
		{"base url unparsable", func(c *Config) { c.Model.BaseURL = "http://[::1" }, []string{"model.baseUrl:"}},
		{"key ref", func(c *Config) { c.Model.APIKeyRef = "sk-live key!" }, []string{"model.apiKeyRef:"}},
		{"key ref too long", func(c *Config) { c.Model.APIKeyRef = strings.Repeat("a", 65) }, []string{"model.apiKeyRef:"}},
		{"key env", func(c *Config) { c.Model.APIKeyEnv = "1BAD-NAME" }, []string{"model.apiKeyEnv:"}},
		{"both key sources", func(c *Config) { c.Model.APIKeyRef, c.Model.APIKeyEnv = "k", "K" }, []string{"model: set apiKeyRef or apiKeyEnv, not both"}},
		{"model timeout", func(c *Config) { c.Model.TimeoutSeconds = 0 }, []string{"model.timeoutSeconds:"}},
		{"model timeout huge", func(c *Config) { c.Model.TimeoutSeconds = 1 << 30 }, []string{"model.timeoutSeconds:"}},
		{"retries", func(c *Config) { c.Model.MaxRetries = 11 }, []string{"model.maxRetries:"}},
		{"agent name upper", func(c *Config) { c.Agent.Name = "Main" }, []string{"agent.name:"}},
		{"agent name dot", func(c *Config) { c.Agent.Name = "../x" }, []string{"agent.name:"}},
		{"agent name long", func(c *Config) { c.Agent.Name = strings.Repeat("a", 33) }, []string{"agent.name:"}},
		{"rounds", func(c *Config) { c.Agent.MaxRounds = 0 }, []string{"agent.maxRounds:"}},
		{"run timeout", func(c *Config) { c.Agent.RunTimeoutSeconds = -5 }, []string{"agent.runTimeoutSeconds:"}},
		{"exec timeout", func(c *Config) { c.Agent.ExecTimeoutSeconds = 86401 }, []string{"agent.execTimeoutSeconds:"}},
		{"exec output", func(c *Config) { c.Agent.ExecMaxOutputBytes = 1 << 30 }, []string{"agent.execMaxOutputBytes:"}},
		{"approval timeout", func(c *Config) { c.Agent.ApprovalTimeoutSeconds = 0 }, []string{"agent.approvalTimeoutSeconds:"}},
		{"policy mode", func(c *Config) { c.Agent.ToolPolicy = map[string]string{"exec": "maybe"} }, []string{"agent.toolPolicy.exec: must be"}},
		{"policy key", func(c *Config) { c.Agent.ToolPolicy = map[string]string{"Exec Tool": "deny"} }, []string{`agent.toolPolicy["Exec Tool"]`}},
		{"log level", func(c *Config) { c.Logging.Level = "verbose" }, []string{"logging.level:"}},
		{"many problems at once", func(c *Config) {
			c.Gateway.Port = 0
			c.Gateway.Bind = "nowhere"
			c.Model.Provider = "openai"
			c.Agent.ToolPolicy = map[string]string{"b": "x", "a": "y"}
			c.Logging.Level = ""
		}, []string{
			"gateway.bind:", "gateway.port: must be 1-65535, got 0", "model.model:",
			"agent.toolPolicy.a:", "agent.toolPolicy.b:", "logging.level:",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.modify(c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			got := unjoin(err)
			if len(got) != len(tt.want) {
				t.Fatalf("Validate() reported %d problems, want %d:\n%v", len(got), len(tt.want), err)
			}
			// Problems come out in field order, the order of tt.want.
			for i, w := range tt.want {
				if !strings.Contains(got[i].Error(), w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestValidateNeverEchoesCredentials checks that a URL with inline
// credentials is not repeated in the error.
func TestValidateNeverEchoesCredentials(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"https://user:sk-secret@host/v1", "ftp://user:sk-secret@host", "http://user:sk-secret@[::1"} {
		c := Default()
		c.Model.BaseURL = u
		err := c.Validate()
		if err == nil || strings.Contains(err.Error(), "sk-secret") {
			t.Errorf("Validate(baseUrl %q) = %v, want an error that hides the credentials", u, err)
		}
	}
}

// unjoin splits an errors.Join result into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestValidSecretName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"model.apiKey": true, "telegram_bot-token.2": true, strings.Repeat("a", 64): true,
		"": false, strings.Repeat("a", 65): false, "a b": false, "a/b": false, "ключ": false,
	} {
		if got := ValidSecretName(name); got != want {
			t.Errorf("ValidSecretName(%q) = %v, want %v", name, got, want)
		}
	}
}
