package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/session"
	"github.com/genos-project/genos/core/vault"
)

// Engine is the part of the gateway that reads and writes sealed data, so
// it exists only while the vault is unlocked. The daemon builds one at
// unlock and withdraws it (SetEngine(nil)) before locking.
type Engine struct {
	Agent    agent.Info
	Runner   *agent.Runner
	Sessions *session.Manager
	Models   Models
	// Memory serves memory.*; nil answers them with UNAVAILABLE.
	Memory Memory
}

func (e *Engine) validate() error {
	if e.Runner == nil || e.Sessions == nil || e.Models == nil {
		return errors.New("gateway: an engine needs a runner, sessions and models")
	}
	return nil
}

// Vault is what the gateway needs of the daemon's vault to serve vault.*.
// Errors wrapping vault.ErrWrongPassphrase, vault.ErrNoVault and
// vault.ErrExists are reported to the client as such.
type Vault interface {
	Status() api.VaultStatus
	Unlock(ctx context.Context, passphrase []byte, remember bool) error
	Lock(ctx context.Context) error
	Create(ctx context.Context, passphrase []byte, remember bool) error
	Rekey(ctx context.Context, oldPassphrase, newPassphrase []byte) error
}

// errLocked answers every method that needs sealed data while locked.
var errLocked = api.Errorf(api.CodeLocked, "the vault is locked: unlock it with `genos vault unlock` or Unlock… in the Genos menu")

// unlockWait bounds how long a request waits for an unlock in progress.
const unlockWait = 45 * time.Second

// engine returns the current engine, or the VAULT_LOCKED error. While an
// unlock is in progress (the daemon unlocking from a key source at start)
// it waits for the outcome, so a client that connects early is served
// rather than turned away.
func (s *Server) engine(ctx context.Context) (*Engine, error) {
	for {
		if e := s.eng.Load(); e != nil {
			return e, nil
		}
		s.umu.Lock()
		ch := s.unlocking
		s.umu.Unlock()
		if ch == nil {
			return nil, errLocked
		}
		t := time.NewTimer(unlockWait)
		select {
		case <-ch:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return nil, errLocked
		case <-t.C:
			return nil, errLocked
		}
	}
}

// SetUnlocking marks an unlock as in progress (true) or over (false).
// Requests that need the engine wait for it meanwhile.
func (s *Server) SetUnlocking(on bool) {
	s.umu.Lock()
	defer s.umu.Unlock()
	switch {
	case on && s.unlocking == nil:
		s.unlocking = make(chan struct{})
	case !on && s.unlocking != nil:
		close(s.unlocking)
		s.unlocking = nil
	}
}

// SetEngine installs the engine after an unlock.
func (s *Server) SetEngine(e *Engine) error {
	if e != nil {
		if err := e.validate(); err != nil {
			return err
		}
	}
	s.eng.Store(e)
	return nil
}

// Suspend withdraws the engine before the vault locks: new requests get
// VAULT_LOCKED, runs in flight are aborted (their transcripts record the
// abort while the keys still exist) and Suspend waits for them, bounded by
// ctx.
func (s *Server) Suspend(ctx context.Context) {
	s.eng.Store(nil)
	s.runs.abortAll()
	s.runs.wait(ctx)
}

// NotifyVault broadcasts vault.changed.
func (s *Server) NotifyVault(st api.VaultStatus) { s.broadcast(api.EventVaultChanged, st) }

func (s *Server) vaultState() api.VaultStatus {
	if s.opts.Vault == nil {
		return api.VaultStatus{State: api.VaultNone}
	}
	return s.opts.Vault.Status()
}

func (s *Server) vaultStatus(context.Context, *conn, json.RawMessage) (any, error) {
	return s.vaultState(), nil
}

// maxPassphrase bounds a passphrase; nobody types more, and PBKDF2 cost
// grows with it.
const maxPassphrase = 1024

func (s *Server) vaultPassphrase(raw json.RawMessage) ([]byte, bool, error) {
	if s.opts.Vault == nil {
		return nil, false, api.Errorf(api.CodeUnavailable, "this gateway has no vault support")
	}
	var p api.VaultUnlockParams
	if err := api.DecodeParams(raw, &p); err != nil {
		return nil, false, err
	}
	switch {
	case strings.TrimSpace(p.Passphrase) == "":
		return nil, false, api.Errorf(api.CodeInvalidRequest, "passphrase is required")
	case len(p.Passphrase) > maxPassphrase:
		return nil, false, api.Errorf(api.CodeInvalidRequest, "passphrase is longer than %d bytes", maxPassphrase)
	}
	return []byte(p.Passphrase), p.Remember, nil
}

func (s *Server) vaultUnlock(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	pass, remember, err := s.vaultPassphrase(raw)
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	if err := s.opts.Vault.Unlock(ctx, pass, remember); err != nil {
		return nil, vaultError(err)
	}
	return s.vaultState(), nil
}

func (s *Server) vaultCreate(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	pass, remember, err := s.vaultPassphrase(raw)
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	if err := s.opts.Vault.Create(ctx, pass, remember); err != nil {
		return nil, vaultError(err)
	}
	return s.vaultState(), nil
}

func (s *Server) vaultRekey(ctx context.Context, _ *conn, raw json.RawMessage) (any, error) {
	if s.opts.Vault == nil {
		return nil, api.Errorf(api.CodeUnavailable, "this gateway has no vault support")
	}
	var p api.VaultRekeyParams
	if err := api.DecodeParams(raw, &p); err != nil {
		return nil, err
	}
	for _, pp := range []string{p.Passphrase, p.NewPassphrase} {
		if strings.TrimSpace(pp) == "" || len(pp) > maxPassphrase {
			return nil, api.Errorf(api.CodeInvalidRequest, "passphrase and newPassphrase of 1 to %d bytes are required", maxPassphrase)
		}
	}
	oldPass, newPass := []byte(p.Passphrase), []byte(p.NewPassphrase)
	defer clear(oldPass)
	defer clear(newPass)
	if err := s.opts.Vault.Rekey(ctx, oldPass, newPass); err != nil {
		return nil, vaultError(err)
	}
	return s.vaultState(), nil
}

func (s *Server) vaultLock(ctx context.Context, _ *conn, _ json.RawMessage) (any, error) {
	if s.opts.Vault == nil {
		return nil, api.Errorf(api.CodeUnavailable, "this gateway has no vault support")
	}
	if err := s.opts.Vault.Lock(ctx); err != nil {
		return nil, vaultError(err)
	}
	return s.vaultState(), nil
}

// vaultError maps the vault's errors onto protocol codes.
func vaultError(err error) error {
	var shape *api.ErrorShape
	switch {
	case errors.As(err, &shape):
		return shape
	case errors.Is(err, vault.ErrWrongPassphrase):
		return api.Errorf(api.CodeInvalidRequest, "wrong passphrase")
	case errors.Is(err, vault.ErrNoVault):
		return api.Errorf(api.CodeNotFound, "there is no vault yet: create one in onboarding or with `genos vault init`")
	case errors.Is(err, vault.ErrExists):
		return api.Errorf(api.CodeInvalidRequest, "a vault already exists")
	}
	return err
}
