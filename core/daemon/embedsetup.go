package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/vault"
)

// embedKeyRef names the secret holding the embedder's API key.
const embedKeyRef = "memory.apiKey"

// EmbedderSetup is the memory embedder genos memory embedder chooses.
type EmbedderSetup struct {
	// Kind is config.EmbedderOpenAI, config.EmbedderONNX or "" (none).
	Kind       string
	BaseURL    string
	Model      string
	APIKey     string // stored in the vault as a secret, never in the config
	APIKeyEnv  string // or read from this variable at start
	Dimensions int
	ONNXModel  string
}

// CheckEmbedder builds the embedder s describes and embeds one text with
// it, so a wrong URL, model or key is reported before it is saved. It
// returns the model's name and vector length.
func CheckEmbedder(ctx context.Context, stateDir string, s EmbedderSetup) (string, int, error) {
	c := config.Default()
	applyEmbedder(c, s)
	if err := c.Validate(); err != nil {
		return "", 0, err
	}
	// The key is only held here: the check never writes it.
	key := func(ref string) (string, bool) { return s.APIKey, ref == embedKeyRef && s.APIKey != "" }
	e, closer, err := newEmbedder(c.Memory, stateDir, discardLogger(), key)
	if err != nil {
		return "", 0, err
	}
	if e == nil {
		return "", 0, nil
	}
	if closer != nil {
		defer closer.Close()
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	vs, err := e.Embed(cctx, []string{"Genos checks that this embedder answers."})
	if err != nil {
		return "", 0, err
	}
	return e.Model(), len(vs[0]), nil
}

// SaveEmbedder writes the embedder choice to the state dir's config (and
// its key to the secrets) without a running daemon. v is the state dir's
// vault, unlocked, or nil when there is none.
func SaveEmbedder(stateDir string, s EmbedderSetup, v *vault.Vault) error {
	if err := paths.Ensure(stateDir); err != nil {
		return err
	}
	var sealer config.Sealer
	secretsPath := paths.SecretsFile(stateDir)
	if v != nil {
		sealer, secretsPath = v, paths.VaultSecretsFile(stateDir)
	} else if HasVault(stateDir) {
		return fmt.Errorf("save embedder: this state directory has a vault: %w", vault.ErrLocked)
	}
	return updateConfig(stateDir, sealer, func(cfg *config.Config) error {
		applyEmbedder(cfg, s)
		if err := cfg.Validate(); err != nil {
			return err
		}
		if s.APIKey == "" {
			return nil
		}
		secrets, err := config.OpenSecretsSealed(secretsPath, sealer)
		if err != nil {
			return err
		}
		if err := secrets.Set(embedKeyRef, s.APIKey); err != nil {
			return fmt.Errorf("save the embedder's API key: %w", err)
		}
		return nil
	})
}

func applyEmbedder(c *config.Config, s EmbedderSetup) {
	m := &c.Memory
	m.Embedder, m.BaseURL, m.Model, m.Dimensions, m.ONNXModel = s.Kind, s.BaseURL, s.Model, s.Dimensions, s.ONNXModel
	m.APIKeyRef, m.APIKeyEnv = "", s.APIKeyEnv
	if s.APIKey != "" {
		m.APIKeyRef = embedKeyRef
	}
	if s.Kind == "" {
		*m = config.Memory{HalfLifeDays: m.HalfLifeDays, NoPrefetch: m.NoPrefetch, NoToolFilter: m.NoToolFilter,
			ContextWindowTokens: m.ContextWindowTokens, ReserveTokens: m.ReserveTokens, KeepTurns: m.KeepTurns}
	}
}
