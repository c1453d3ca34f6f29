package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/model"
)

// modelSwitch holds the current provider and lets setup replace it while
// runs are in flight: a run keeps the provider it started with. It also
// notices when genos.json changed on disk (`genos setup` run next to a
// running gateway) and picks the new model up without a restart.
type modelSwitch struct {
	log     *slog.Logger
	cfgPath string
	// load reads the config and secrets (through the vault when there is
	// one).
	load func() (*config.Config, *config.Secrets, error)
	// onReload hears of a model configuration picked up from disk.
	onReload func(config.Config)

	mu       sync.RWMutex
	provider model.Provider
	name     string
	model    string

	checkMu sync.Mutex
	checked time.Time // last stat of the config file
	modTime time.Time // config mtime the current provider was built from
}

// reloadEvery bounds how often Current stats the config file.
const reloadEvery = time.Second

// reload rebuilds the provider from the config and secrets on disk.
func (m *modelSwitch) reload() error {
	st, err := os.Stat(m.cfgPath)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	c, secrets, err := m.load()
	if err != nil {
		return err
	}
	m.checkMu.Lock()
	m.modTime = st.ModTime()
	m.checkMu.Unlock()
	if err := m.configure(*c, secrets); err != nil {
		return err
	}
	if m.onReload != nil {
		m.onReload(*c)
	}
	return nil
}

// maybeReload reloads when the config file changed since the last look.
func (m *modelSwitch) maybeReload() {
	if m.cfgPath == "" {
		return
	}
	m.checkMu.Lock()
	now := time.Now()
	if now.Sub(m.checked) < reloadEvery {
		m.checkMu.Unlock()
		return
	}
	m.checked = now
	st, err := os.Stat(m.cfgPath)
	changed := err == nil && !st.ModTime().Equal(m.modTime)
	m.checkMu.Unlock()
	if !changed {
		return
	}
	if err := m.reload(); err != nil {
		// Keep the working provider; the user sees the problem in the log
		// and the next good save fixes it.
		m.log.Warn("config changed on disk but could not be applied", "err", err)
	} else {
		m.log.Info("model configuration reloaded")
	}
}

// configure builds the provider c describes and switches to it. When that
// fails the current provider stays: a typo in genos.json must not take a
// working gateway down.
func (m *modelSwitch) configure(c config.Config, secrets *config.Secrets) error {
	if !c.Configured() {
		m.set(nil, "", "")
		return nil
	}
	key, err := c.APIKey(secrets)
	if err != nil {
		return err
	}
	p, err := model.New(c.Model.Provider, model.Options{
		BaseURL:    c.Model.BaseURL,
		APIKey:     key,
		Timeout:    time.Duration(c.Model.TimeoutSeconds) * time.Second,
		MaxRetries: c.Model.MaxRetries,
		Logger:     m.log,
	})
	if err != nil {
		return err
	}
	m.set(p, c.Model.Provider, c.Model.Model)
	return nil
}

func (m *modelSwitch) set(p model.Provider, name, modelName string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.provider, m.name, m.model = p, name, modelName
}

// Current implements gateway.Models.
func (m *modelSwitch) Current() (agent.Provider, string, string, bool) {
	m.maybeReload()
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.provider == nil {
		return nil, "", "", false
	}
	return m.provider, m.name, m.model, true
}

// List implements gateway.Models.
func (m *modelSwitch) List(ctx context.Context) ([]string, error) {
	m.mu.RLock()
	p := m.provider
	m.mu.RUnlock()
	if p == nil {
		return nil, errors.New("no model configured")
	}
	return p.Models(ctx)
}
