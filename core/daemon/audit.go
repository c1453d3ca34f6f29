package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/policy"
	"maps"
	"path/filepath"
	"time"

	"github.com/genos-project/genos/core/audit"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/vault"
)

// auditKeyRef names the secret holding the audit log's HMAC key. It lives
// with the other secrets (and moves into the vault with them), never in the
// log's directory listing alone.
const auditKeyRef = "audit.key"

// AuditFile returns the audit log's path in stateDir.
func AuditFile(stateDir string) string { return filepath.Join(stateDir, "audit.jsonl") }

// auditKey returns the audit HMAC key, creating it on first use.
func auditKey(secrets *config.Secrets) ([]byte, error) {
	if h, ok := secrets.Get(auditKeyRef); ok {
		key, err := hex.DecodeString(h)
		if err != nil || len(key) != audit.KeySize {
			return nil, fmt.Errorf("the audit key in %s is malformed; restore it from a backup, or delete it to start a new audit chain", secrets.Path())
		}
		return key, nil
	}
	key := make([]byte, audit.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create audit key: %w", err)
	}
	if err := secrets.Set(auditKeyRef, hex.EncodeToString(key)); err != nil {
		return nil, fmt.Errorf("store audit key: %w", err)
	}
	return key, nil
}

// VerifyAudit checks the audit log of stateDir offline (genos audit verify).
// v is the state dir's vault, unlocked, or nil when there is none.
func VerifyAudit(stateDir string, v *vault.Vault) (audit.VerifyResult, error) {
	bad := audit.VerifyResult{FirstBad: -1}
	var sealer config.Sealer
	path := paths.SecretsFile(stateDir)
	var codec audit.LineCodec = audit.PlainCodec{}
	if v != nil {
		sealer, path, codec = v, paths.VaultSecretsFile(stateDir), v.LineCodec()
	} else if HasVault(stateDir) {
		return bad, fmt.Errorf("the audit log is sealed: %w", vault.ErrLocked)
	}
	secrets, err := config.OpenSecretsSealed(path, sealer)
	if err != nil {
		return bad, err
	}
	h, ok := secrets.Get(auditKeyRef)
	if !ok {
		return bad, fmt.Errorf("no audit key in %s: Genos has not written an audit log here yet", secrets.Path())
	}
	key, err := hex.DecodeString(h)
	if err != nil || len(key) != audit.KeySize {
		return bad, fmt.Errorf("the audit key in %s is malformed", secrets.Path())
	}
	defer clear(key)
	return audit.VerifyFile(AuditFile(stateDir), key, codec)
}

// auditGatewayAuthFailed is recorded for every connect with a bad token.
const auditGatewayAuthFailed = audit.EventGatewayAuthFailed

// maxPendingAudit bounds the events kept in memory while the vault is
// locked (failed logins from a script must not grow memory without end);
// past it, the count of dropped events is recorded instead.
const maxPendingAudit = 1000

type pendingEvent struct {
	ev audit.Event
}

// record appends an audit event. While the vault is locked the log cannot
// be written (its lines are sealed and its key is a secret), so events are
// held in memory and written at the next unlock. Audit failures are logged,
// never fatal: refusing to answer the owner because the log is full would
// be worse.
func (d *Daemon) record(event string, fields map[string]string) {
	ev := audit.Event{Event: event, Fields: fields}
	l := d.auditLog.Load()
	if l != nil {
		err := l.Append(ev)
		if err == nil {
			return
		}
		if d.auditLog.Load() == l {
			d.log.Error("audit append failed", "event", event, "err", err)
			return
		}
		// The engine stopped under us: keep the event for the next unlock.
	}
	{
		// Written later: keep when it really happened.
		held := make(map[string]string, len(fields)+1)
		maps.Copy(held, fields)
		held["heldSince"] = time.Now().UTC().Format(time.RFC3339)
		ev.Fields = held
		d.pmu.Lock()
		if len(d.pendingAudit) < maxPendingAudit {
			d.pendingAudit = append(d.pendingAudit, pendingEvent{ev: ev})
		}
		d.pmu.Unlock()
		return
	}
}

// flushPendingAudit writes the events recorded while locked. The caller
// holds d.mu and has just installed d.eng.
func (d *Daemon) flushPendingAudit() {
	d.pmu.Lock()
	pending := d.pendingAudit
	d.pendingAudit = nil
	d.pmu.Unlock()
	for _, p := range pending {
		if err := d.eng.audit.Append(p.ev); err != nil {
			d.log.Error("audit append failed", "event", p.ev.Event, "err", err)
		}
	}
}

func (d *Daemon) auditApproval(e policy.Event) {
	f := map[string]string{"id": e.Request.ID, "tool": e.Request.Tool, "session": e.Request.SessionKey, "agent": e.Request.AgentID}
	switch e.Kind {
	case policy.EventRequested:
		d.record(audit.EventApprovalRequested, f)
	case policy.EventResolved:
		f["decision"] = string(e.Decision)
		d.record(audit.EventApprovalDecided, f)
	}
}

// auditToolRun records every exec: the command is what an owner reviewing
// the log needs to see (the log is sealed once the vault exists).
func (d *Daemon) auditToolRun(r agent.ToolRun) {
	if r.Refused {
		d.record(audit.EventToolRefused, map[string]string{"tool": r.Tool, "session": r.SessionKey, "agent": r.AgentID, "args": string(r.Args)})
		return
	}
	if r.Category != "exec" {
		return
	}
	f := map[string]string{"tool": r.Tool, "session": r.SessionKey, "agent": r.AgentID, "args": string(r.Args)}
	if r.IsError {
		f["failed"] = "true"
	}
	d.record(audit.EventExecRun, f)
}
