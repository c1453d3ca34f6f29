package daemon

import (
	"context"
	"sync"

	"github.com/genos-project/genos/core/vault/keysource"
)

// noKeySources keeps tests away from the machine's real key stores.
var noKeySources = []keysource.Source{}

// noStore is a key store that has nothing and stores nothing.
type noStore struct{}

func (noStore) Name() string                        { return "none" }
func (noStore) Get(context.Context) ([]byte, error) { return nil, keysource.ErrNotFound }
func (noStore) Set(context.Context, []byte) error   { return keysource.ErrUnavailable }
func (noStore) Delete(context.Context) error        { return nil }

// memStore is an in-process key store for "remember" tests; the real
// platform stores are tested in core/vault/keysource against a loopback
// Secret Service.
type memStore struct {
	mu   sync.Mutex
	pass []byte
}

func (m *memStore) Name() string { return "memory" }
func (m *memStore) Get(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pass == nil {
		return nil, keysource.ErrNotFound
	}
	return append([]byte(nil), m.pass...), nil
}
func (m *memStore) Set(_ context.Context, p []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pass = append([]byte(nil), p...)
	return nil
}
func (m *memStore) Delete(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pass = nil
	return nil
}
