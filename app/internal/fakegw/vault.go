package fakegw

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/genos-project/genos/core/api"
)

// Passphrase is the passphrase of the fake's vault until SetVault or
// vault.create changes it.
const Passphrase = "correct horse battery"

// minPassphrase is the shortest passphrase vault.create accepts.
const minPassphrase = 8

// SetVault sets the vault state and the passphrase that unlocks it, without
// an event: use it before clients connect. An empty passphrase keeps the
// current one. The fake starts unlocked with Passphrase.
func (s *Server) SetVault(st api.VaultStatus, passphrase string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.vault = cloneVault(st)
	if passphrase != "" {
		s.pass = passphrase
	}
}

// Vault returns the vault status vault.status would answer.
func (s *Server) Vault() api.VaultStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneVault(s.vault)
}

// LockVault locks the vault and emits vault.changed, as the daemon's idle
// auto-lock does.
func (s *Server) LockVault() {
	s.mu.Lock()
	s.vault.State = api.VaultLocked
	st := cloneVault(s.vault)
	s.mu.Unlock()
	s.Emit(api.EventVaultChanged, st)
}

// servedWhileLocked reports whether the daemon answers method while its
// vault is locked: only what a client needs to see the state and unlock.
func servedWhileLocked(method string) bool {
	return method == api.MethodConnect || method == api.MethodHealth || method == api.MethodStatus ||
		strings.HasPrefix(method, "vault.")
}

func lockedHandler(json.RawMessage) (any, *api.ErrorShape) {
	return nil, api.Errorf(api.CodeLocked, "vault is locked")
}

func (s *Server) vaultUnlock(raw json.RawMessage) (any, *api.ErrorShape) {
	var p api.VaultUnlockParams
	if err := decode(raw, &p); err != nil {
		return nil, err
	}
	if p.Passphrase == "" {
		return nil, api.Errorf(api.CodeInvalidRequest, "passphrase is required")
	}
	s.mu.Lock()
	switch {
	case s.vault.State == api.VaultNone:
		s.mu.Unlock()
		return nil, api.Errorf(api.CodeInvalidRequest, "no vault exists yet; create one first")
	case p.Passphrase != s.pass:
		s.mu.Unlock()
		return nil, api.Errorf(api.CodeInvalidRequest, "wrong vault passphrase")
	}
	return s.changeVault(api.VaultUnlocked)
}

func (s *Server) vaultLock(json.RawMessage) (any, *api.ErrorShape) {
	s.mu.Lock()
	if s.vault.State == api.VaultNone {
		s.mu.Unlock()
		return nil, api.Errorf(api.CodeInvalidRequest, "no vault exists yet; nothing to lock")
	}
	return s.changeVault(api.VaultLocked)
}

func (s *Server) vaultCreate(raw json.RawMessage) (any, *api.ErrorShape) {
	var p api.VaultUnlockParams
	if err := decode(raw, &p); err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(p.Passphrase) < minPassphrase {
		return nil, api.Errorf(api.CodeInvalidRequest, "the passphrase must have at least %d characters", minPassphrase)
	}
	s.mu.Lock()
	if s.vault.State != api.VaultNone {
		s.mu.Unlock()
		return nil, api.Errorf(api.CodeInvalidRequest, "a vault already exists")
	}
	s.pass = p.Passphrase
	return s.changeVault(api.VaultUnlocked)
}

// changeVault moves the vault to state, unlocks s.mu (held by the caller)
// and broadcasts vault.changed after the response, as the daemon does.
func (s *Server) changeVault(state string) (any, *api.ErrorShape) {
	changed := s.vault.State != state
	s.vault.State = state
	if state == api.VaultUnlocked {
		s.vault.QueuedInbound = 0 // delivered at unlock
	}
	st := cloneVault(s.vault)
	s.mu.Unlock()
	if changed {
		go s.Emit(api.EventVaultChanged, st)
	}
	return st, nil
}

func cloneVault(st api.VaultStatus) api.VaultStatus {
	st.KeySources = append([]string(nil), st.KeySources...)
	return st
}
