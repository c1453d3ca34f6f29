package windows

import (
	"errors"
	"net"
	"net/url"
	"strings"
	"unicode"
)

// Providers offered by onboarding.
const (
	ProviderOpenAI    = "openai"
	ProviderAnthropic = "anthropic"
)

// Default base URLs per provider.
const (
	DefaultOpenAIURL    = "https://api.openai.com/v1"
	DefaultAnthropicURL = "https://api.anthropic.com"
)

// Setup is the model configuration onboarding collects.
type Setup struct {
	Provider string // ProviderOpenAI or ProviderAnthropic
	BaseURL  string
	Model    string
	APIKey   string
}

// LocalServer is an Ollama-compatible model server found on this computer.
type LocalServer struct {
	BaseURL string
	Models  []string
}

const (
	maxModelLen = 200
	maxKeyLen   = 4096
)

// normalize trims the fields the way they will be saved.
func (s Setup) normalize() Setup {
	s.Provider = strings.TrimSpace(s.Provider)
	s.BaseURL = strings.TrimRight(strings.TrimSpace(s.BaseURL), "/")
	s.Model = strings.TrimSpace(s.Model)
	s.APIKey = strings.TrimSpace(s.APIKey)
	return s
}

// validate reports every problem with s, each as a sentence for the user,
// joined; nil means s can be saved.
func (s Setup) validate() error {
	var errs []error
	bad := func(msg string) { errs = append(errs, errors.New(msg)) }

	if s.Provider != ProviderOpenAI && s.Provider != ProviderAnthropic {
		bad("Choose a provider.")
	}
	local := false
	switch u, err := url.Parse(s.BaseURL); {
	case s.BaseURL == "":
		bad("Enter the server address (base URL).")
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		bad("The base URL must look like https://host/path (http:// only for servers on this computer or network).")
	case u.User != nil:
		bad("Do not put credentials in the base URL; use the API key field.")
	case u.RawQuery != "" || u.Fragment != "":
		bad("The base URL cannot have a query (?…) or fragment (#…).")
	default:
		local = isLocalHost(u.Hostname())
		if u.Scheme == "http" && !local && s.APIKey != "" {
			bad("Use https:// to send an API key to a server outside your network.")
		}
	}
	switch {
	case s.Model == "":
		bad("Enter a model name.")
	case len(s.Model) > maxModelLen:
		bad("The model name is too long.")
	case strings.IndexFunc(s.Model, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		bad("The model name cannot contain spaces.")
	}
	switch {
	case s.APIKey == "" && s.Provider == ProviderAnthropic:
		bad("Enter your Anthropic API key.")
	case s.APIKey == "" && s.Provider == ProviderOpenAI && !local && s.BaseURL != "":
		bad("Enter an API key (only servers on this computer or network can do without one).")
	case len(s.APIKey) > maxKeyLen:
		bad("The API key is too long.")
	case strings.IndexFunc(s.APIKey, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		bad("The API key contains spaces or line breaks; paste it again.")
	}
	return errors.Join(errs...)
}

// isLocalHost reports whether host is this computer or a private network
// address, where model servers commonly run without a key.
func isLocalHost(host string) bool {
	h := strings.ToLower(host)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".local") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast())
}
