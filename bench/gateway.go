package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/daemon"
	"github.com/genos-project/genos/core/gateway"
	"github.com/genos-project/genos/core/paths"
)

// Names shared by every gateway the harness starts.
const (
	benchModel  = "bench-model"
	benchKeyEnv = "GENOS_BENCH_MODEL_KEY"
	// benchKey is the fake API key the loopback model server demands, so the
	// gateway's auth header path is exercised as with a real provider.
	benchKey = "bench-key-not-a-secret"
	// startTimeout bounds how long a gateway may take to print its address.
	startTimeout = 15 * time.Second
	// stopTimeout bounds the graceful shutdown after SIGINT.
	stopTimeout = 10 * time.Second
)

// newStateDir creates a fresh state dir whose config points the model at
// modelURL (an OpenAI-compatible base URL ending in /v1).
func newStateDir(modelURL string) (string, error) { return newStateDirWith(modelURL, nil) }

// newStateDirWith is newStateDir with edit applied to the config before it
// is saved. The config must be written before the vault exists: from then
// on the gateway keeps it sealed.
func newStateDirWith(modelURL string, edit func(*config.Config)) (string, error) {
	dir, err := os.MkdirTemp("", "genos-bench-")
	if err != nil {
		return "", fmt.Errorf("create state dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("create state dir: %w", err)
	}
	cfg := config.Default()
	cfg.Model.Provider = config.ProviderOpenAI
	cfg.Model.BaseURL = modelURL
	cfg.Model.Model = benchModel
	cfg.Model.APIKeyEnv = benchKeyEnv
	if edit != nil {
		edit(cfg)
	}
	if err := config.Save(paths.ConfigFile(dir), cfg); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	// Vault on, as in real use: every transcript line is sealed, and the
	// gateway unlocks at start from GENOS_VAULT_PASSPHRASE (one PBKDF2).
	if err := daemon.InitVault(context.Background(), dir, []byte(benchVaultPass)); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("create the bench vault: %w", err)
	}
	return dir, nil
}

// benchVaultPass unlocks the bench state dirs' vaults.
const benchVaultPass = "genos bench vault passphrase"

// gatewayCommand is the command line the harness runs, for the table.
func gatewayCommand(bin string) string {
	return "GENOS_STATE_DIR=<fresh, vault on> GENOS_VAULT_PASSPHRASE=… " + bin + " gateway --listen 127.0.0.1:0"
}

// gatewayProc is one `genos gateway` child process.
type gatewayProc struct {
	cmd      *exec.Cmd
	stateDir string
	addr     string    // host:port parsed from the startup line
	started  time.Time // just before exec
	ready    time.Time // when the startup line was read
	logs     *logTail
	exited   chan struct{} // closed once the process has been waited for
	waitErr  error         // valid after exited is closed
}

// startGateway execs the gateway on a free loopback port and returns once it
// has printed its address. extraEnv (KEY=value) is added to its environment.
// The process is stopped again on any error.
func startGateway(ctx context.Context, bin, stateDir string, extraEnv ...string) (*gatewayProc, error) {
	cmd := exec.Command(bin, "gateway", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GENOS_STATE_DIR="+stateDir, benchKeyEnv+"="+benchKey, "GENOS_VAULT_PASSPHRASE="+benchVaultPass)
	cmd.Env = append(cmd.Env, extraEnv...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start gateway: %w", err)
	}
	g := &gatewayProc{cmd: cmd, stateDir: stateDir, logs: newLogTail(64 << 10), exited: make(chan struct{})}
	cmd.Stderr = g.logs
	g.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start gateway %s: %w", bin, err)
	}
	addrc := make(chan string, 1)
	go func() {
		// Stdout is read to EOF before Wait, as os/exec requires; lines
		// after the first are kept with the logs for error reports.
		sc := bufio.NewScanner(stdout)
		found := false
		for sc.Scan() {
			line := sc.Text()
			if !found {
				if addr, ok := parseListenLine(line); ok {
					found = true
					addrc <- addr
					continue
				}
			}
			fmt.Fprintf(g.logs, "stdout: %s\n", line)
		}
		_, _ = io.Copy(io.Discard, stdout)
		g.waitErr = cmd.Wait()
		close(g.exited)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case g.addr = <-addrc:
		g.ready = time.Now()
		return g, nil
	case <-g.exited:
		return nil, fmt.Errorf("gateway exited before listening (%v); its output ends with: %s", g.waitErr, g.logs.last(800))
	case <-timer.C:
		err = fmt.Errorf("gateway printed no address within %s; its output ends with: %s", startTimeout, g.logs.last(800))
	case <-ctx.Done():
		err = ctx.Err()
	}
	_ = g.kill()
	return nil, err
}

// parseListenLine extracts HOST:PORT from the gateway's startup line,
// "Genos gateway <version> listening on ws://HOST:PORT/ws (state dir ...)".
func parseListenLine(line string) (string, bool) {
	_, rest, ok := strings.Cut(line, " listening on ws://")
	if !ok {
		return "", false
	}
	addr, _, ok := strings.Cut(rest, "/ws")
	if !ok {
		return "", false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "", false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", false
	}
	return addr, true
}

// pid is the gateway's process id.
func (g *gatewayProc) pid() int { return g.cmd.Process.Pid }

// wsURL is the protocol endpoint.
func (g *gatewayProc) wsURL() string { return "ws://" + g.addr + "/ws" }

// healthURL is the HTTP probe.
func (g *gatewayProc) healthURL() string { return "http://" + g.addr + "/health" }

// token reads the token the gateway created in its state dir.
func (g *gatewayProc) token() (string, error) {
	return gateway.ReadToken(paths.TokenFile(g.stateDir))
}

// dial connects one authenticated protocol client.
func (g *gatewayProc) dial(ctx context.Context, token, id string) (*api.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return api.Dial(dctx, api.DialOptions{
		URL:    g.wsURL(),
		Token:  token,
		Client: api.ClientInfo{ID: id, Version: "bench", Mode: "test"},
		// Like the CLI: each client follows only the sessions it uses.
		Scope: api.ScopeOwn,
	})
}

// stop asks the gateway to shut down (SIGINT, as Ctrl-C would) and waits.
// A gateway that does not exit in time is killed and reported, as is one
// that exits with an error: both are bugs worth a line in the results.
func (g *gatewayProc) stop() error {
	select {
	case <-g.exited:
		return fmt.Errorf("gateway had already exited (%v); its output ends with: %s", g.waitErr, g.logs.last(800))
	default:
	}
	if err := g.cmd.Process.Signal(os.Interrupt); err != nil {
		_ = g.kill()
		return fmt.Errorf("signal gateway: %w", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-g.exited:
		if g.waitErr != nil {
			return fmt.Errorf("gateway exited with %v after SIGINT; its output ends with: %s", g.waitErr, g.logs.last(800))
		}
		return nil
	case <-timer.C:
		_ = g.kill()
		return fmt.Errorf("gateway did not exit within %s of SIGINT and was killed; its output ends with: %s", stopTimeout, g.logs.last(800))
	}
}

// kill ends the process at once and waits for it.
func (g *gatewayProc) kill() error {
	err := g.cmd.Process.Kill()
	<-g.exited
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// logTail keeps the last bytes a process wrote and counts its warning and
// error log lines (slog text format: level=WARN / level=ERROR).
type logTail struct {
	mu       sync.Mutex
	buf      []byte
	limit    int
	partial  []byte // an unfinished line, held back until its newline
	warnings int
	errors   int
	samples  []string // the first few warning and error lines
}

func newLogTail(limit int) *logTail { return &logTail{limit: limit} }

// Write implements io.Writer.
func (t *logTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.limit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.countLine(string(t.partial[:i]))
		t.partial = t.partial[i+1:]
	}
	if len(t.partial) > t.limit {
		t.partial = t.partial[:0] // a runaway line is not a log record
	}
	return len(p), nil
}

func (t *logTail) countLine(line string) {
	switch {
	case strings.Contains(line, "level=WARN"):
		t.warnings++
	case strings.Contains(line, "level=ERROR"), strings.HasPrefix(line, "panic:"), strings.HasPrefix(line, "fatal error:"):
		t.errors++
	default:
		return
	}
	if len(t.samples) < 5 {
		t.samples = append(t.samples, truncate(line, 300))
	}
}

// counts returns how many warning and error lines were logged and a few of
// them.
func (t *logTail) counts() (warnings, errs int, samples []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.warnings, t.errors, append([]string(nil), t.samples...)
}

// last returns up to n of the most recent bytes, on one line.
func (t *logTail) last(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > n {
		b = b[len(b)-n:]
	}
	s := strings.TrimSpace(strings.ReplaceAll(string(b), "\n", " ⏎ "))
	if s == "" {
		return "(nothing)"
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
