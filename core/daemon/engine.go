package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/audit"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/gateway"
	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/session"
	"github.com/genos-project/genos/core/tools"
	"github.com/genos-project/genos/core/vault/keysource"
)

// engine is everything that holds decrypted data or keys derived from
// secrets: built at unlock, closed (caches dropped) before the vault locks.
type engine struct {
	cfg      config.Config
	sealer   config.Sealer // nil before a vault exists
	secrets  *config.Secrets
	audit    *audit.Log
	sessions *session.Manager
	models   *modelSwitch
	info     agent.Info
	memory   *memoryParts
}

// close releases the engine's files and caches. The model provider goes
// with it (it holds the API key); nothing here is reused after a lock.
func (e *engine) close() error {
	var errs []error
	// Memory first: its background sync may still be writing rows.
	errs = append(errs, e.memory.close())
	if e.sessions != nil {
		errs = append(errs, e.sessions.Close())
	}
	if e.audit != nil {
		errs = append(errs, e.audit.Close())
	}
	if e.models != nil {
		e.models.set(nil, "", "")
	}
	return errors.Join(errs...)
}

// sealedFiles picks the store for secrets: vault.enc once a vault exists,
// the plaintext secrets.json before.
func (d *Daemon) secretsPath() string {
	if d.vault != nil {
		return paths.VaultSecretsFile(d.opts.StateDir)
	}
	return paths.SecretsFile(d.opts.StateDir)
}

// startEngine builds the engine from the state dir and hands it to the
// gateway. The caller holds d.mu (or is New, before anyone else can run).
// With a vault it must be unlocked, and the state dir is migrated first.
func (d *Daemon) startEngine(ctx context.Context) (err error) {
	dir := d.opts.StateDir
	var sealer config.Sealer
	var lines lineCodec = session.PlainCodec{}
	sessOpts := []session.Option{session.WithLogger(d.log)}
	if d.vault != nil {
		sessOpts = append(sessOpts, session.WithValueCodec(d.vault.InlineCodec()))
		sealer = d.vault
		if err := migrateState(ctx, dir, d.db, d.vault, d.log); err != nil {
			return fmt.Errorf("seal the state directory: %w", err)
		}
		lines = d.vault.StrictLineCodec()
	}
	e := &engine{sealer: sealer}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	cfgPath := paths.ConfigFile(dir)
	cfg, err := config.LoadSealed(cfgPath, sealer)
	if errors.Is(err, config.ErrNoConfig) {
		cfg = config.Default()
	} else if err != nil {
		return err
	}
	e.cfg = *cfg
	if d.vault != nil {
		d.vault.SetIdleTimeout(time.Duration(*cfg.Vault.AutoLockMinutes) * time.Minute)
		if err := config.WriteBoot(paths.BootFile(dir), config.BootOf(cfg)); err != nil {
			d.log.Warn("could not update the boot settings", "err", err)
		}
	}
	if e.secrets, err = config.OpenSecretsSealed(d.secretsPath(), sealer); err != nil {
		return err
	}
	key, err := auditKey(e.secrets)
	if err != nil {
		return err
	}
	if e.audit, err = audit.Open(AuditFile(dir), key, lines); err != nil {
		return fmt.Errorf("open the audit log: %w (genos audit verify tells what is wrong with it)", err)
	}
	clear(key)
	c := e.cfg
	if e.info, err = agent.LoadOrCreate(dir, c.Agent.Name, toolSealer(sealer)); err != nil {
		return err
	}
	e.sessions = session.NewManager(dir, d.db, lines, sessOpts...)
	e.models = &modelSwitch{log: d.log, cfgPath: cfgPath,
		load: func() (*config.Config, *config.Secrets, error) {
			c, err := config.LoadSealed(cfgPath, sealer)
			if err != nil {
				return nil, nil, err
			}
			s, err := config.OpenSecretsSealed(d.secretsPath(), sealer)
			return c, s, err
		},
		onReload: func(c config.Config) {
			d.record(audit.EventConfigChanged, map[string]string{"what": "model", "provider": c.Model.Provider, "model": c.Model.Model})
		}}
	if err := e.models.configure(c, e.secrets); err != nil {
		// A broken model setting must not keep the gateway from starting:
		// the user fixes it through setup, which needs a running daemon.
		d.log.Warn("model not usable", "err", err)
	}
	if st, err := os.Stat(cfgPath); err == nil {
		e.models.modTime = st.ModTime()
	}
	workspace := filepath.Join(dir, e.info.Workspace)
	if e.memory, err = d.openMemory(ctx, e, workspace); err != nil {
		return err
	}
	builtins := tools.Builtins(tools.BuiltinOptions{
		ExecTimeout:   time.Duration(c.Agent.ExecTimeoutSeconds) * time.Second,
		ExecMaxOutput: c.Agent.ExecMaxOutputBytes,
		HiddenEnv:     nonEmpty(c.Model.APIKeyEnv, c.Memory.APIKeyEnv, keysource.EnvVar),
		Sealer:        toolSealer(sealer),
	})
	reg, err := tools.NewRegistry(slices.Concat(builtins, e.memory.mem.Tools(), []tools.Tool{d.pairingTool()})...)
	if err != nil {
		return err
	}
	d.approvals.SetTimeout(time.Duration(c.Agent.ApprovalTimeoutSeconds) * time.Second)
	runner := &agent.Runner{
		Info:       e.info,
		Workspace:  workspace,
		Sealer:     toolSealer(sealer),
		Tools:      reg,
		Rules:      toolRules(c),
		Approvals:  d.approvals,
		MaxRounds:  c.Agent.MaxRounds,
		RunTimeout: time.Duration(c.Agent.RunTimeoutSeconds) * time.Second,
		Logger:     d.log.With("agent", e.info.ID),
		OnToolRun:  d.auditToolRun,
		Augment:    e.memory,

		ContextWindow: c.Memory.ContextWindowTokens,
		ReserveTokens: c.Memory.ReserveTokens,
		KeepTurns:     c.Memory.KeepTurns,
	}
	if err := d.gw.SetEngine(&gateway.Engine{Agent: e.info, Runner: runner, Sessions: e.sessions, Models: e.models, Memory: e.memory}); err != nil {
		return err
	}
	e.memory.start(reg)
	var codec policy.ValueCodec = plainValues{}
	if d.vault != nil {
		codec = d.vault.InlineCodec()
	}
	access, err := policy.NewAccess(d.db, codec, policy.AccessOptions{Rules: channelRules(c), OnEvent: d.onPairing})
	if err != nil {
		return fmt.Errorf("channel rules: %w", err)
	}
	d.eng = e
	d.access = access
	d.auditLog.Store(e.audit)
	d.flushPendingAudit()
	d.syncChannels()
	return nil
}

// plainValues stores database values as they are, before a vault exists.
type plainValues struct{}

func (plainValues) EncodeValue(p []byte) ([]byte, error) { return p, nil }
func (plainValues) DecodeValue(s []byte) ([]byte, error) { return s, nil }

// stopEngine withdraws the engine from the gateway, aborts its runs and
// closes it. The caller holds d.mu.
func (d *Daemon) stopEngine(ctx context.Context) {
	if d.eng == nil {
		return
	}
	d.access = nil
	wctx, cancel := context.WithTimeout(ctx, d.opts.ShutdownGrace)
	d.gw.Suspend(wctx)
	cancel()
	d.auditLog.Store(nil)
	if err := d.eng.close(); err != nil {
		d.log.Warn("closing the engine", "err", err)
	}
	d.eng = nil
}

// toolSealer converts a possibly nil config.Sealer into a tools.Sealer
// without creating a non-nil interface around a nil pointer.
func toolSealer(s config.Sealer) tools.Sealer {
	if s == nil {
		return nil
	}
	return s
}

// lineCodec is what both the session and audit packages take for lines.
type lineCodec interface {
	EncodeLine(plain []byte) ([]byte, error)
	DecodeLine(line []byte) ([]byte, error)
}

func toolRules(c config.Config) policy.Rules {
	rules := policy.DefaultRules()
	for k, v := range c.Agent.ToolPolicy {
		if tools.Category(k).Valid() {
			rules.Categories[k] = policy.Mode(v)
		} else {
			if rules.Tools == nil {
				rules.Tools = map[string]policy.Mode{}
			}
			rules.Tools[k] = policy.Mode(v)
		}
	}
	return rules
}
