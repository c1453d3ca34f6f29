// Package daemon builds every core part from the config and runs them: the
// single place where the engine is wired together.
//
// The daemon has two layers. The outer one runs whether or not the vault is
// unlocked: the instance lock, the gateway token and listener, the sessions
// database (its content columns are sealed), the approvals queue and the
// sealed inbound queue. The inner one, the engine, reads and writes sealed
// data (config, secrets, transcripts, workspace files, audit log) and exists
// only while the vault is unlocked, or always when no vault exists yet.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/audit"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/gateway"
	"github.com/genos-project/genos/core/inbox"
	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/policy"
	"github.com/genos-project/genos/core/session"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/vault"
	"github.com/genos-project/genos/core/vault/keysource"
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
	// KeySources are tried, in order, to unlock the vault at start without
	// asking anyone. Nil means the defaults: GENOS_VAULT_PASSPHRASE, then the
	// platform key store (macOS Keychain, Secret Service). Tests pass an
	// empty slice.
	KeySources []keysource.Source
	// Remember stores a passphrase for later starts ("remember" in unlock
	// and create). Nil means the platform key store.
	Remember keysource.Store
	// VaultClock drives auto-lock; nil is the system clock.
	VaultClock vault.Clock
	// ChannelFactories build the messaging adapters by channel name; the
	// composition root supplies them. A configured channel without a
	// factory is reported as not available in this build.
	ChannelFactories map[string]ChannelFactory
}

// Daemon holds every running part. Build it with New, run it with Run, and
// Close it once Run has returned.
type Daemon struct {
	opts      Options
	log       *slog.Logger
	lock      *paths.InstanceLock
	db        *store.DB
	queue     *session.Queue
	approvals *policy.Approvals
	gw        *gateway.Server
	token     string
	tcp       net.Listener
	inbox     *inbox.Queue // nil until a vault exists

	// mu serialises vault transitions (create, unlock, lock, rekey) and
	// guards vault and eng.
	mu    sync.Mutex
	vault *vault.Vault // nil while no vault exists
	eng   *engine      // nil while the vault is locked

	// auditLog is the engine's audit log, read without d.mu so that events
	// raised while a transition holds it (approvals withdrawn by a lock)
	// never wait for it.
	auditLog     atomic.Pointer[audit.Log]
	pmu          sync.Mutex
	pendingAudit []pendingEvent // recorded while locked, written at unlock
	warning      string         // last "remember" failure, shown in vault status

	unlocking atomic.Bool // key sources are being tried (start)

	chans    channelSet
	limiter  *policy.Limiter // per-sender rate limit for channel messages
	draining sync.WaitGroup  // inbound-queue drains in flight
	access   *policy.Access  // nil while locked

	runCtx context.Context // set by Run, for goroutines the vault starts
}

// New takes the state dir's instance lock and builds the daemon. A missing
// config is not an error: the daemon starts with defaults, and NeedsSetup
// reports true until a model is configured. With a vault, New tries the key
// sources and otherwise starts locked.
func New(ctx context.Context, o Options) (_ *Daemon, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 5 * time.Second
	}
	if o.KeySources == nil {
		o.KeySources = []keysource.Source{keysource.Env(os.LookupEnv), keysource.Platform(o.StateDir)}
	}
	if o.Remember == nil {
		o.Remember = keysource.Platform(o.StateDir)
	}
	if err := harden(); err != nil {
		o.Logger.Warn("could not protect the process from same-user inspection", "err", err)
	}
	if err := paths.Ensure(o.StateDir); err != nil {
		return nil, err
	}
	d := &Daemon{opts: o, log: o.Logger, runCtx: context.Background()}
	d.lock, err = paths.Lock(o.StateDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()

	switch d.vault, err = vault.Open(o.StateDir, vault.Options{Logger: d.log, Clock: o.VaultClock}); {
	case errors.Is(err, vault.ErrNoVault):
		d.vault = nil
	case err != nil:
		return nil, fmt.Errorf("%w (restore vault.check from a backup; without it the vault cannot be opened)", err)
	default:
		d.vault.OnChange(d.vaultChanged)
	}
	boot, err := d.bootSettings()
	if err != nil {
		return nil, err
	}
	if d.db, err = store.Open(ctx, paths.DBFile(o.StateDir)); err != nil {
		return nil, err
	}
	d.queue = session.NewQueue(8)
	if d.limiter, err = policy.NewLimiter(policy.LimiterConfig{}); err != nil {
		return nil, err
	}
	if d.token, err = gateway.LoadOrCreateToken(paths.TokenFile(o.StateDir)); err != nil {
		return nil, err
	}
	if d.vault != nil {
		if d.inbox, err = openInbox(o.StateDir); err != nil {
			return nil, err
		}
	}
	var gw *gateway.Server
	d.approvals = policy.NewApprovals(time.Duration(config.DefaultApprovalTimeoutSeconds)*time.Second, func(e policy.Event) {
		d.auditApproval(e)
		if gw != nil {
			gw.NotifyApproval(e)
		}
	})
	listen := o.Listen
	if listen == "" {
		listen = net.JoinHostPort(boot.Bind, strconv.Itoa(boot.Port))
	}
	if !o.NoTCP {
		if err := gateway.CheckBind(listen, d.token); err != nil {
			return nil, err
		}
		if d.tcp, err = net.Listen("tcp", listen); err != nil {
			return nil, fmt.Errorf("listen on %s: %w (is another program using the port? set gateway.port in the config)", listen, err)
		}
		listen = d.tcp.Addr().String()
	}
	gw, err = gateway.New(gateway.Options{
		Version:   o.Version,
		StateDir:  o.StateDir,
		Listen:    listen,
		Token:     d.token,
		DB:        d.db,
		Approvals: d.approvals,
		Queue:     d.queue,
		Vault:     vaultControl{d},
		Channels:  channelControl{d},
		Logger:    d.log,
		OnAuthFailure: func(remote, client string) {
			d.record(auditGatewayAuthFailed, map[string]string{"remote": remote, "client": client})
		},
	})
	if err != nil {
		return nil, err
	}
	d.gw = gw

	if d.vault == nil {
		if err := d.startEngine(ctx); err != nil {
			return nil, err
		}
	} else if len(o.KeySources) > 0 {
		// Unlocking from a key source costs a PBKDF2 (and maybe a key-store
		// prompt): Run does it once the gateway answers, and requests that
		// need the vault wait for it meanwhile.
		d.unlocking.Store(true)
		d.gw.SetUnlocking(true)
	}
	return d, nil
}

// bootSettings returns where to listen: from the plaintext config before a
// vault exists, from the plaintext boot mirror after.
func (d *Daemon) bootSettings() (config.Boot, error) {
	if d.vault != nil {
		return config.LoadBoot(paths.BootFile(d.opts.StateDir))
	}
	cfg, err := config.Load(paths.ConfigFile(d.opts.StateDir))
	switch {
	case errors.Is(err, config.ErrNoConfig):
		return config.BootOf(config.Default()), nil
	case errors.Is(err, config.ErrSealed):
		// vault.check is gone but the config is sealed: the state dir is
		// damaged, and guessing would only hide it.
		return config.Boot{}, fmt.Errorf("%w; %s is missing, so the vault cannot be opened (restore it from a backup)", err, vault.CheckFile)
	case err != nil:
		return config.Boot{}, err
	}
	return config.BootOf(cfg), nil
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
	d.mu.Lock()
	d.runCtx = ctx
	v := d.vault
	d.mu.Unlock()
	if v != nil {
		go v.Run(ctx)
	}
	var bg sync.WaitGroup
	defer bg.Wait()
	if d.unlocking.Load() {
		bg.Go(func() { d.tryKeySources(ctx) })
	}
	go watchSleep(ctx, d.log, d.lockForSleep)
	bg.Go(func() { _ = d.limiter.Run(ctx, d.deliverAdmitted) })
	d.log.Info("gateway ready", "listen", d.Addr(), "vault", d.vaultStatus().State, "model_configured", !d.NeedsSetup())
	return d.gw.Serve(ctx, d.opts.ShutdownGrace, ls...)
}

// Close releases what New acquired. Call it after Run returns. It locks the
// vault, so no key outlives the process's useful life.
func (d *Daemon) Close() error {
	var errs []error
	d.stopChannels()
	d.draining.Wait()
	d.mu.Lock()
	if d.eng != nil {
		d.auditLog.Store(nil)
		errs = append(errs, d.eng.close())
		d.eng = nil
	}
	if d.vault != nil {
		d.vault.Lock()
	}
	d.mu.Unlock()
	if d.inbox != nil {
		errs = append(errs, d.inbox.Close())
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

// NeedsSetup reports whether no usable model is configured yet. While the
// vault is locked the answer is unknown and reported as false: the unlock
// comes first.
func (d *Daemon) NeedsSetup() bool {
	e := d.engine()
	if e == nil {
		return false
	}
	_, _, _, ok := e.models.Current()
	return !ok
}

// engine returns the running engine, nil while locked.
func (d *Daemon) engine() *engine {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.eng
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
// the setup is invalid. It needs the vault unlocked.
func (d *Daemon) ApplySetup(_ context.Context, s Setup) error {
	d.mu.Lock()
	e := d.eng
	d.mu.Unlock()
	if e == nil {
		return fmt.Errorf("save setup: %w", vault.ErrLocked)
	}
	if err := saveSetup(d.opts.StateDir, s, e.sealer, e.secrets); err != nil {
		return err
	}
	return e.models.reload() // audited through onReload
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
