package daemon

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/model"
)

// modelSwitch holds the current provider and lets setup replace it while
// runs are in flight: a run keeps the provider it started with.
type modelSwitch struct {
	log *slog.Logger

	mu       sync.RWMutex
	provider model.Provider
	name     string
	model    string
}

func (m *modelSwitch) configure(c config.Config, secrets *config.Secrets) error {
	if !c.Configured() {
		m.set(nil, "", "")
		return nil
	}
	key, err := c.APIKey(secrets)
	if err != nil {
		m.set(nil, "", "")
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
		m.set(nil, "", "")
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
