package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

var (
	// secretNameRE is what a secret may be called: short, and safe in a file
	// name, a keychain item and a command line. Upper case is allowed so that
	// camelCase names like "model.apiKey" work.
	secretNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	// envNameRE is a portable environment variable name.
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	// agentNameRE doubles as a directory name, so it is lower case and
	// cannot start with a dot or dash.
	agentNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	// policyKeyRE matches tool categories and tool names (web_fetch,
	// memory_write, server.tool).
	policyKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
)

// ValidSecretName reports whether name may name a secret (APIKeyRef, and the
// names Secrets.Set accepts).
func ValidSecretName(name string) bool { return secretNameRE.MatchString(name) }

// maxModelNameLen bounds Model.Model; real names are well under 100 bytes.
const maxModelNameLen = 256

// Validate reports every problem with c at once, joined with errors.Join,
// each naming its field path as in the file ("gateway.port: must be 1-65535,
// got 0"). A nil error means c can be saved and used.
func (c *Config) Validate() error {
	var v validator
	if c.Version != CurrentVersion {
		v.addf("version", "must be %d, got %d", CurrentVersion, c.Version)
	}

	g := c.Gateway
	if g.Bind != "localhost" && net.ParseIP(g.Bind) == nil {
		v.addf("gateway.bind", "must be an IP address or \"localhost\", got %q", g.Bind)
	}
	v.intRange("gateway.port", g.Port, 1, 65535)
	v.intRange("gateway.tickSeconds", g.TickSeconds, 1, 3600)

	m := c.Model
	switch m.Provider {
	case "", ProviderOpenAI, ProviderAnthropic:
	default:
		v.addf("model.provider", "must be %q, %q or empty, got %q", ProviderOpenAI, ProviderAnthropic, m.Provider)
	}
	switch {
	case m.Provider != "" && m.Model == "":
		v.addf("model.model", "must be set when model.provider is %q", m.Provider)
	case len(m.Model) > maxModelNameLen:
		v.addf("model.model", "must be at most %d bytes, got %d", maxModelNameLen, len(m.Model))
	case strings.IndexFunc(m.Model, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		v.addf("model.model", "must not contain spaces or control characters, got %q", m.Model)
	}
	v.endpoint("model", m.BaseURL, m.APIKeyRef, m.APIKeyEnv)
	v.intRange("model.timeoutSeconds", m.TimeoutSeconds, 1, 7200)
	v.intRange("model.maxRetries", m.MaxRetries, 1, 10)

	a := c.Agent
	if !agentNameRE.MatchString(a.Name) {
		v.addf("agent.name", "must be 1-32 lowercase letters, digits, '_' or '-', starting with a letter or digit, got %q", a.Name)
	}
	v.intRange("agent.maxRounds", a.MaxRounds, 1, 256)
	v.intRange("agent.runTimeoutSeconds", a.RunTimeoutSeconds, 1, 86400)
	v.intRange("agent.execTimeoutSeconds", a.ExecTimeoutSeconds, 1, 86400)
	v.intRange("agent.execMaxOutputBytes", a.ExecMaxOutputBytes, 1, 16<<20)
	v.intRange("agent.approvalTimeoutSeconds", a.ApprovalTimeoutSeconds, 1, 86400)
	keys := make([]string, 0, len(a.ToolPolicy))
	for k := range a.ToolPolicy {
		keys = append(keys, k)
	}
	slices.Sort(keys) // stable messages
	for _, k := range keys {
		field := "agent.toolPolicy." + k
		if !policyKeyRE.MatchString(k) {
			field = fmt.Sprintf("agent.toolPolicy[%q]", k)
			v.addf(field, "must be a tool category or tool name (lowercase letters, digits, '_', '.', '-')")
		}
		switch mode := a.ToolPolicy[k]; mode {
		case PolicyAllow, PolicyAsk, PolicyDeny:
		default:
			v.addf(field, "must be %q, %q or %q, got %q", PolicyAllow, PolicyAsk, PolicyDeny, mode)
		}
	}

	if c.Vault.AutoLockMinutes == nil {
		v.addf("vault.autoLockMinutes", "must be set (0 means never)")
	} else {
		v.intRange("vault.autoLockMinutes", *c.Vault.AutoLockMinutes, 0, 7*24*60)
	}

	c.Memory.validate(&v)

	for _, name := range slices.Sorted(maps.Keys(c.Channels)) {
		validateChannel(&v, name, c.Channels[name])
	}

	switch c.Logging.Level {
	case "debug", "info", "warn", "error":
	default:
		v.addf("logging.level", "must be debug, info, warn or error, got %q", c.Logging.Level)
	}
	return errors.Join(v.problems...)
}

// checkBaseURL accepts an absolute http(s) URL with a host and no inline
// credentials (secrets live in the secret store, never in the config).
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		// url.Parse's error repeats the URL, which may embed credentials.
		return errors.New("must be a valid http:// or https:// URL")
	}
	if u.User != nil {
		return errors.New("must not contain credentials; put the key in the secret store and set model.apiKeyRef")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must start with http:// or https://, got %q", s)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("must include a host, got %q", s)
	}
	return nil
}

// endpoint checks the base URL and API key source of a provider section.
func (v *validator) endpoint(section, baseURL, keyRef, keyEnv string) {
	if baseURL != "" {
		if err := checkBaseURL(baseURL); err != nil {
			v.addf(section+".baseUrl", "%v", err)
		}
	}
	if keyRef != "" && !ValidSecretName(keyRef) {
		v.addf(section+".apiKeyRef", "must be a secret name of 1-64 letters, digits, '.', '_' or '-', got %q", keyRef)
	}
	if keyEnv != "" && !envNameRE.MatchString(keyEnv) {
		v.addf(section+".apiKeyEnv", "must be an environment variable name, got %q", keyEnv)
	}
	if keyRef != "" && keyEnv != "" {
		v.addf(section, "set apiKeyRef or apiKeyEnv, not both")
	}
}

// validator collects problems so that Validate reports all of them.
type validator struct{ problems []error }

func (v *validator) addf(field, format string, args ...any) {
	v.problems = append(v.problems, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

func (v *validator) intRange(field string, n, lo, hi int) {
	if n < lo || n > hi {
		v.addf(field, "must be %d-%d, got %d", lo, hi, n)
	}
}

// maxAllowEntries bounds an allowlist in the config.
const maxAllowEntries = 1000

func validateChannel(v *validator, name string, ch Channel) {
	f := "channels." + name
	switch name {
	case ChannelTelegram, ChannelWhatsApp:
	default:
		v.addf(fmt.Sprintf("channels[%q]", name), "unknown channel (known: %s, %s)", ChannelTelegram, ChannelWhatsApp)
		return
	}
	if ch.TokenRef != "" && !ValidSecretName(ch.TokenRef) {
		v.addf(f+".tokenRef", "must be a secret name, got %q", ch.TokenRef)
	}
	if name == ChannelTelegram && ch.Enabled && ch.TokenRef == "" {
		v.addf(f+".tokenRef", "must name the secret holding the bot token when telegram is enabled")
	}
	switch ch.DM {
	case "", DMPairing, DMAllowlist, DMDisabled:
	case DMOpen:
		if !slices.Contains(ch.AllowFrom, "*") {
			v.addf(f+".dm", `"open" lets anyone talk to your assistant: it requires "*" in allowFrom to confirm`)
		}
	default:
		v.addf(f+".dm", "must be pairing, allowlist, open or disabled, got %q", ch.DM)
	}
	switch ch.Group {
	case "", GroupOpen, GroupAllow, GroupDisable:
	default:
		v.addf(f+".group", "must be open, allowlist or disabled, got %q", ch.Group)
	}
	for _, list := range []struct {
		field string
		ids   []string
	}{{"allowFrom", ch.AllowFrom}, {"groupAllowFrom", ch.GroupAllowFrom}} {
		if len(list.ids) > maxAllowEntries {
			v.addf(f+"."+list.field, "has %d entries, at most %d", len(list.ids), maxAllowEntries)
		}
		for _, id := range list.ids {
			if id == "" || len(id) > 128 || strings.ContainsFunc(id, unicode.IsSpace) {
				v.addf(f+"."+list.field, "entries must be ids of 1-128 characters without spaces, got %q", id)
				break
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(ch.ToolPolicy)) {
		switch mode := ch.ToolPolicy[k]; {
		case !policyKeyRE.MatchString(k):
			v.addf(fmt.Sprintf("%s.toolPolicy[%q]", f, k), "must be a tool category or tool name")
		case mode != PolicyAsk && mode != PolicyDeny:
			v.addf(f+".toolPolicy."+k, "can only tighten: must be %q or %q, got %q", PolicyAsk, PolicyDeny, mode)
		}
	}
}
