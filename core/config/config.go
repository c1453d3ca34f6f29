// Package config owns genos.json: the versioned, strictly decoded and fully
// validated configuration, its migrations and defaults, the Store through
// which live changes are made, and (until the vault exists) the plaintext
// secret store its API key references point into.
//
// The file never holds a secret: Model.APIKeyRef names an entry in the secret
// store and Model.APIKeyEnv names an environment variable.
package config

import (
	"maps"
	"slices"
)

// CurrentVersion is the config format this build reads and writes. Older
// files are migrated on Load; newer ones are refused.
const CurrentVersion = 1

// Defaults filled in for zero fields on Load (and set by Default).
const (
	DefaultBind                   = "127.0.0.1"
	DefaultPort                   = 18789
	DefaultTickSeconds            = 30
	DefaultModelTimeoutSeconds    = 600
	DefaultMaxRetries             = 3
	DefaultAgentName              = "main"
	DefaultMaxRounds              = 16
	DefaultRunTimeoutSeconds      = 600
	DefaultExecTimeoutSeconds     = 60
	DefaultExecMaxOutputBytes     = 64 << 10
	DefaultApprovalTimeoutSeconds = 120
	DefaultLogLevel               = "info"
	DefaultAutoLockMinutes        = 30
)

// Model providers Model.Provider may name. The empty provider means onboarding
// has not chosen one yet.
const (
	ProviderOpenAI    = "openai"
	ProviderAnthropic = "anthropic"
)

// Tool policy modes, the values of Agent.ToolPolicy.
const (
	PolicyAllow = "allow"
	PolicyAsk   = "ask"
	PolicyDeny  = "deny"
)

// Config is the whole of genos.json.
type Config struct {
	Version int     `json:"version"`
	Gateway Gateway `json:"gateway"`
	Model   Model   `json:"model"`
	Agent   Agent   `json:"agent"`
	Logging Logging `json:"logging"`
	Vault   Vault   `json:"vault"`
	Memory  Memory  `json:"memory"`
	// Channels configures messaging channels by name ("telegram",
	// "whatsapp"). A channel that is absent or not enabled does not run.
	Channels map[string]Channel `json:"channels,omitempty"`
}

// Channel names Genos has adapters for.
const (
	ChannelTelegram = "telegram"
	ChannelWhatsApp = "whatsapp"
)

// DM and group policies (Channel.DM, Channel.Group).
const (
	DMPairing    = "pairing"
	DMAllowlist  = "allowlist"
	DMOpen       = "open"
	DMDisabled   = "disabled"
	GroupOpen    = "open"
	GroupAllow   = "allowlist"
	GroupDisable = "disabled"
)

// Channel configures one messaging channel. Its credentials are never here:
// TokenRef names a secret in the vault.
type Channel struct {
	Enabled bool `json:"enabled"`
	// TokenRef names the secret holding the bot token (Telegram). WhatsApp
	// pairs by QR code and keeps its device keys sealed instead.
	TokenRef string `json:"tokenRef,omitempty"`
	// DM is who may talk to the assistant in direct messages: "pairing"
	// (default: strangers get a code the owner approves), "allowlist",
	// "open" (AllowFrom must contain "*") or "disabled".
	DM        string   `json:"dm,omitempty"`
	AllowFrom []string `json:"allowFrom,omitempty"`
	// Group is "allowlist" (default: only GroupAllowFrom), "open" or
	// "disabled".
	Group          string   `json:"group,omitempty"`
	GroupAllowFrom []string `json:"groupAllowFrom,omitempty"`
	// RequireMention makes the assistant answer in groups only when it is
	// mentioned or replied to. Default true.
	RequireMention *bool `json:"requireMention,omitempty"`
	// ReadReceipts sends read receipts where the platform has them
	// (WhatsApp). Default false.
	ReadReceipts bool `json:"readReceipts,omitempty"`
	// ToolPolicy tightens the agent's tool rules for this channel (it
	// cannot loosen them; exec is never available to a messaging channel).
	ToolPolicy map[string]string `json:"toolPolicy,omitempty"`
}

// Vault configures the vault's lifecycle (the vault itself is created in
// onboarding or with genos vault init, not by a config switch).
type Vault struct {
	// AutoLockMinutes locks the vault after this many idle minutes; 0 means
	// never. A pointer so that an explicit 0 survives defaults.
	AutoLockMinutes *int `json:"autoLockMinutes"`
}

// Gateway configures the local WebSocket/HTTP gateway.
type Gateway struct {
	// Bind is the address to listen on: an IP or "localhost". A non-loopback
	// address is accepted here; the gateway itself refuses it without a token.
	Bind string `json:"bind"`
	// Port is the TCP port.
	Port int `json:"port"`
	// TickSeconds is the interval of keepalive ticks sent to clients.
	TickSeconds int `json:"tickSeconds"`
}

// Model configures the model provider.
type Model struct {
	// Provider is "openai", "anthropic" or "" (not configured yet). "openai"
	// also covers OpenAI-compatible servers reached through BaseURL.
	Provider string `json:"provider"`
	// BaseURL optionally overrides the provider's endpoint (an http or https URL).
	BaseURL string `json:"baseUrl"`
	// Model is the model name sent to the provider.
	Model string `json:"model"`
	// APIKeyRef names the secret holding the API key (see Secrets); it is
	// never the key itself.
	APIKeyRef string `json:"apiKeyRef"`
	// APIKeyEnv names an environment variable holding the API key, for
	// servers and CI. At most one of APIKeyRef and APIKeyEnv is set.
	APIKeyEnv string `json:"apiKeyEnv"`
	// TimeoutSeconds bounds one model request.
	TimeoutSeconds int `json:"timeoutSeconds"`
	// MaxRetries is how often a failed request is retried.
	MaxRetries int `json:"maxRetries"`
}

// Agent configures the default agent and its loop.
type Agent struct {
	// Name is the agent's name, also its workspace directory name.
	Name string `json:"name"`
	// MaxRounds bounds model/tool round trips per run.
	MaxRounds int `json:"maxRounds"`
	// RunTimeoutSeconds bounds one whole run.
	RunTimeoutSeconds int `json:"runTimeoutSeconds"`
	// ExecTimeoutSeconds bounds one command run by the exec tool.
	ExecTimeoutSeconds int `json:"execTimeoutSeconds"`
	// ExecMaxOutputBytes caps the output of one command kept for the model.
	ExecMaxOutputBytes int `json:"execMaxOutputBytes"`
	// ApprovalTimeoutSeconds is how long an "ask" approval waits before it
	// counts as denied.
	ApprovalTimeoutSeconds int `json:"approvalTimeoutSeconds"`
	// ToolPolicy maps a tool category (read, write, exec, ...) or a tool name
	// to "allow", "ask" or "deny". Empty means the built-in defaults.
	ToolPolicy map[string]string `json:"toolPolicy,omitempty"`
}

// Logging configures the daemon's logs.
type Logging struct {
	// Level is debug, info, warn or error.
	Level string `json:"level"`
}

// Default returns a valid config with every default set and no model
// configured, which is what onboarding starts from.
func Default() *Config {
	c := &Config{Version: CurrentVersion}
	c.applyDefaults()
	return c
}

// Configured reports whether a model provider and model are set, that is
// whether onboarding has chosen a model.
func (c *Config) Configured() bool {
	return c.Model.Provider != "" && c.Model.Model != ""
}

// applyDefaults fills zero fields. Validate rejects every zero value filled
// here, so a valid config is unchanged by it and Load∘Save is the identity.
func (c *Config) applyDefaults() {
	setString(&c.Gateway.Bind, DefaultBind)
	setInt(&c.Gateway.Port, DefaultPort)
	setInt(&c.Gateway.TickSeconds, DefaultTickSeconds)
	setInt(&c.Model.TimeoutSeconds, DefaultModelTimeoutSeconds)
	setInt(&c.Model.MaxRetries, DefaultMaxRetries)
	setString(&c.Agent.Name, DefaultAgentName)
	setInt(&c.Agent.MaxRounds, DefaultMaxRounds)
	setInt(&c.Agent.RunTimeoutSeconds, DefaultRunTimeoutSeconds)
	setInt(&c.Agent.ExecTimeoutSeconds, DefaultExecTimeoutSeconds)
	setInt(&c.Agent.ExecMaxOutputBytes, DefaultExecMaxOutputBytes)
	setInt(&c.Agent.ApprovalTimeoutSeconds, DefaultApprovalTimeoutSeconds)
	setString(&c.Logging.Level, DefaultLogLevel)
	if c.Vault.AutoLockMinutes == nil {
		n := DefaultAutoLockMinutes
		c.Vault.AutoLockMinutes = &n
	}
	c.Memory.applyDefaults()
}

func setString(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

// clone returns a deep copy, so that a copy handed out cannot alter the
// original through the shared ToolPolicy map.
func (c *Config) clone() *Config {
	cp := *c
	cp.Agent.ToolPolicy = maps.Clone(c.Agent.ToolPolicy)
	if c.Vault.AutoLockMinutes != nil {
		n := *c.Vault.AutoLockMinutes
		cp.Vault.AutoLockMinutes = &n
	}
	if c.Memory.HalfLifeDays != nil {
		n := *c.Memory.HalfLifeDays
		cp.Memory.HalfLifeDays = &n
	}
	if c.Channels != nil {
		cp.Channels = make(map[string]Channel, len(c.Channels))
		for k, ch := range c.Channels {
			ch.AllowFrom = slices.Clone(ch.AllowFrom)
			ch.GroupAllowFrom = slices.Clone(ch.GroupAllowFrom)
			ch.ToolPolicy = maps.Clone(ch.ToolPolicy)
			if ch.RequireMention != nil {
				b := *ch.RequireMention
				ch.RequireMention = &b
			}
			cp.Channels[k] = ch
		}
	}
	return &cp
}
