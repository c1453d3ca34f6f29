package config

import (
	"errors"
	"fmt"
	"sync"
)

// Store holds the live config and the file it came from. Every change goes
// through Modify, so the file on disk and the config in memory never disagree
// and never hold an invalid config.
type Store struct {
	path string

	// writeMu serialises Modify calls, which include disk I/O, so that Get
	// only ever waits for a pointer swap.
	writeMu sync.Mutex
	mu      sync.RWMutex
	cfg     *Config
}

// NewStore returns a Store for the config at path, starting from a copy of c
// (typically the result of Load, or Default during onboarding). c must not be
// nil.
func NewStore(path string, c *Config) *Store {
	return &Store{path: path, cfg: c.clone()}
}

// Path returns the file the Store saves to.
func (s *Store) Path() string { return s.path }

// Get returns a deep copy of the current config; changing it changes nothing.
func (s *Store) Get() Config {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return *s.cfg.clone()
}

// Modify applies fn to a copy of the current config, validates the result,
// saves it atomically and only then makes it current. If fn, Validate or the
// save fails, the error is returned and neither memory nor disk changes.
func (s *Store) Modify(fn func(*Config) error) error {
	if fn == nil {
		return errors.New("modify config: nil function")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	s.mu.RLock()
	next := s.cfg.clone()
	s.mu.RUnlock()

	if err := fn(next); err != nil {
		return fmt.Errorf("modify config: %w", err)
	}
	if err := Save(s.path, next); err != nil {
		return err // Save validates first and names the file
	}
	s.mu.Lock()
	s.cfg = next
	s.mu.Unlock()
	return nil
}
