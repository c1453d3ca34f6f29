package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/policy"
	"path/filepath"

	"github.com/genos-project/genos/core/audit"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/paths"
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
func VerifyAudit(stateDir string) (audit.VerifyResult, error) {
	secrets, err := config.OpenSecrets(paths.SecretsFile(stateDir))
	if err != nil {
		return audit.VerifyResult{FirstBad: -1}, err
	}
	h, ok := secrets.Get(auditKeyRef)
	if !ok {
		return audit.VerifyResult{FirstBad: -1}, fmt.Errorf("no audit key in %s: Genos has not written an audit log here yet", secrets.Path())
	}
	key, err := hex.DecodeString(h)
	if err != nil || len(key) != audit.KeySize {
		return audit.VerifyResult{FirstBad: -1}, fmt.Errorf("the audit key in %s is malformed", secrets.Path())
	}
	return audit.VerifyFile(AuditFile(stateDir), key, audit.PlainCodec{})
}

// record appends an audit event. Audit failures are logged, never fatal:
// refusing to answer the owner because the log is full would be worse.
func (d *Daemon) record(event string, fields map[string]string) {
	if d.audit == nil {
		return
	}
	if err := d.audit.Append(audit.Event{Event: event, Fields: fields}); err != nil {
		d.log.Error("audit append failed", "event", event, "err", err)
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
	if r.Category != "exec" {
		return
	}
	f := map[string]string{"tool": r.Tool, "session": r.SessionKey, "agent": r.AgentID, "args": string(r.Args)}
	if r.IsError {
		f["failed"] = "true"
	}
	d.record(audit.EventExecRun, f)
}
