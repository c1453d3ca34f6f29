// Package daemon builds every core part from the config and runs them: the
// single place where the engine is wired together.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/genos-project/genos/core/agent"
	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/audit"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/gateway"
	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/session"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/tools"
)

// Options configures New.
type Options struct {
	StateDir string
	Version  string
	Logger   *slog.Logger
	// Listen overrides the config's gateway address (host:port; port 0 picks
	// a free one). Empty uses the config.
	Listen string
	// NoTCP serves only the in-memory listener (the tray app can do without
	// the TCP port if the user disabled it; tests use it too).
	NoTCP bool
	// Pipe, when set, is served alongside TCP so the tray app can talk to the
	// gateway without a network hop.
	Pipe *api.PipeListener
	// ShutdownGrace bounds the graceful shutdown; 0 means 5 s.
	ShutdownGrace time.Duration
}

// Daemon holds every running part. Build it with New, run it with Run, and
// Close it once Run has returned.
type Daemon struct {
	opts      Options
	log       *slog.Logger
	lock      *paths.InstanceLock
	db        *store.DB
	sessions  *session.Manager
	queue     *session.Queue
	approvals *policy.Approvals
	models    *modelSwitch
	gw        *gateway.Server
	token     string
	tcp       net.Listener
	info      agent.Info
	audit     *audit.Log
}

// New takes the state dir's instance lock and builds the daemon. A missing
// config is not an error: the daemon starts with defaults, and NeedsSetup
// reports true until a model is configured.
func New(ctx context.Context, o Options) (_ *Daemon, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 5 * time.Second
	}
	if err := harden(); err != nil {
		o.Logger.Warn("could not protect the process from same-user inspection", "err", err)
	}
	if err := paths.Ensure(o.StateDir); err != nil {
		return nil, err
	}
	d := &Daemon{opts: o, log: o.Logger}
	d.lock, err = paths.Lock(o.StateDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()

	cfgPath := paths.ConfigFile(o.StateDir)
	cfg, err := config.Load(cfgPath)
	if errors.Is(err, config.ErrNoConfig) {
		cfg = config.Default()
	} else if err != nil {
		return nil, err
	}
	secrets, err := config.OpenSecrets(paths.SecretsFile(o.StateDir))
	if err != nil {
		return nil, err
	}
	key, err := auditKey(secrets)
	if err != nil {
		return nil, err
	}
	if d.audit, err = audit.Open(AuditFile(o.StateDir), key, audit.PlainCodec{}); err != nil {
		return nil, fmt.Errorf("open the audit log: %w (genos audit verify tells what is wrong with it)", err)
	}
	if d.db, err = store.Open(ctx, paths.DBFile(o.StateDir)); err != nil {
		return nil, err
	}
	c := *cfg
	if d.info, err = agent.LoadOrCreate(o.StateDir, c.Agent.Name); err != nil {
		return nil, err
	}
	d.sessions = session.NewManager(o.StateDir, d.db, session.PlainCodec{})
	d.queue = session.NewQueue(8)
	d.models = &modelSwitch{log: d.log, cfgPath: cfgPath, secretsPath: paths.SecretsFile(o.StateDir),
		onReload: func(c config.Config) {
			d.record(audit.EventConfigChanged, map[string]string{"what": "model", "provider": c.Model.Provider, "model": c.Model.Model})
		}}
	if err := d.models.configure(c, secrets); err != nil {
		// A broken model setting must not keep the gateway from starting:
		// the user fixes it through setup, which needs a running daemon.
		d.log.Warn("model not usable", "err", err)
	}
	if st, err := os.Stat(cfgPath); err == nil {
		d.models.modTime = st.ModTime()
	}
	if d.token, err = gateway.LoadOrCreateToken(paths.TokenFile(o.StateDir)); err != nil {
		return nil, err
	}

	reg, err := tools.NewRegistry(tools.Builtins(tools.BuiltinOptions{
		ExecTimeout:   time.Duration(c.Agent.ExecTimeoutSeconds) * time.Second,
		ExecMaxOutput: c.Agent.ExecMaxOutputBytes,
		HiddenEnv:     nonEmpty(c.Model.APIKeyEnv),
	})...)
	if err != nil {
		return nil, err
	}
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
	var gw *gateway.Server
	d.approvals = policy.NewApprovals(time.Duration(c.Agent.ApprovalTimeoutSeconds)*time.Second, func(e policy.Event) {
		d.auditApproval(e)
		if gw != nil {
			gw.NotifyApproval(e)
		}
	})
	runner := &agent.Runner{
		Info:       d.info,
		Workspace:  filepath.Join(o.StateDir, d.info.Workspace),
		Tools:      reg,
		Rules:      rules,
		Approvals:  d.approvals,
		MaxRounds:  c.Agent.MaxRounds,
		RunTimeout: time.Duration(c.Agent.RunTimeoutSeconds) * time.Second,
		Logger:     d.log.With("agent", d.info.ID),
		OnToolRun:  d.auditToolRun,
	}
	listen := o.Listen
	if listen == "" {
		listen = net.JoinHostPort(c.Gateway.Bind, strconv.Itoa(c.Gateway.Port))
	}
	if !o.NoTCP {
		if err := gateway.CheckBind(listen, d.token); err != nil {
			return nil, err
		}
		if d.tcp, err = net.Listen("tcp", listen); err != nil {
			return nil, fmt.Errorf("listen on %s: %w (is another program using the port? set gateway.port in %s)", listen, err, cfgPath)
		}
		listen = d.tcp.Addr().String()
	}
	gw, err = gateway.New(gateway.Options{
		Version:      o.Version,
		StateDir:     o.StateDir,
		Listen:       listen,
		Token:        d.token,
		Agent:        d.info,
		Runner:       runner,
		Sessions:     d.sessions,
		DB:           d.db,
		Approvals:    d.approvals,
		Models:       d.models,
		Queue:        d.queue,
		Logger:       d.log,
		TickInterval: time.Duration(c.Gateway.TickSeconds) * time.Second,
		OnAuthFailure: func(remote, client string) {
			d.record(audit.EventGatewayAuthFailed, map[string]string{"remote": remote, "client": client})
		},
	})
	if err != nil {
		return nil, err
	}
	d.gw = gw
	return d, nil
}

// Run serves until ctx ends, then shuts down within the configured grace.
func (d *Daemon) Run(ctx context.Context) error {
	var ls []net.Listener
	if d.tcp != nil {
		ls = append(ls, d.tcp)
	}
	if d.opts.Pipe != nil {
		ls = append(ls, d.opts.Pipe)
	}
	if d.tcp != nil {
		// Written only while this process holds the instance lock, so a
		// stale file from a crash is simply overwritten by the next start.
		if err := writeAddr(paths.AddrFile(d.opts.StateDir), d.Addr()); err != nil {
			d.log.Warn("could not record the gateway address", "err", err)
		}
		defer os.Remove(paths.AddrFile(d.opts.StateDir))
	}
	d.log.Info("gateway ready", "listen", d.Addr(), "agent", d.info.ID, "model_configured", !d.NeedsSetup())
	return d.gw.Serve(ctx, d.opts.ShutdownGrace, ls...)
}

// Close releases what New acquired. Call it after Run returns.
func (d *Daemon) Close() error {
	var errs []error
	if d.audit != nil {
		errs = append(errs, d.audit.Close())
	}
	if d.sessions != nil {
		errs = append(errs, d.sessions.Close())
	}
	if d.db != nil {
		errs = append(errs, d.db.Close())
	}
	if d.lock != nil {
		errs = append(errs, d.lock.Release())
	}
	return errors.Join(errs...)
}

// Addr is the gateway's TCP address, or "" when serving in memory only.
func (d *Daemon) Addr() string {
	if d.tcp == nil {
		return ""
	}
	return d.tcp.Addr().String()
}

// Token is the gateway token clients must present.
func (d *Daemon) Token() string { return d.token }

// NeedsSetup reports whether no usable model is configured yet.
func (d *Daemon) NeedsSetup() bool {
	_, _, _, ok := d.models.Current()
	return !ok
}

// Setup is what onboarding collects.
type Setup struct {
	Provider string // "openai" | "anthropic"
	BaseURL  string
	Model    string
	APIKey   string
}

// apiKeyRef names the secret holding the model API key.
const apiKeyRef = "model.apiKey"

// ApplySetup validates and saves a model setup, stores the key as a secret,
// and switches the running daemon to the new provider. Nothing is written if
// the setup is invalid.
func (d *Daemon) ApplySetup(_ context.Context, s Setup) error {
	if err := SaveSetup(d.opts.StateDir, s); err != nil {
		return err
	}
	return d.models.reload() // audited through onReload
}

// writeAddr atomically replaces path with addr.
func writeAddr(path, addr string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
