// Package paths owns the layout of Genos's state directory: where it is
// (GENOS_STATE_DIR or ~/.genosv1), the names of the files inside it, its
// permissions, and the single-instance lock that keeps two daemons from
// sharing one state directory.
package paths

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// EnvStateDir is the environment variable that overrides the state directory.
const EnvStateDir = "GENOS_STATE_DIR"

// defaultDirName is the state directory under the user's home. The "v1" keeps
// it apart from other Genos-like tools' directories so neither corrupts the other.
const defaultDirName = ".genosv1"

// dirPerm is the only mode a state directory may have: it holds transcripts,
// the gateway token and secrets, so nobody but the owner may even list it.
const dirPerm os.FileMode = 0o700

// StateDir returns the state directory: $GENOS_STATE_DIR if it is set (made
// absolute and cleaned, so a relative value does not drift with the working
// directory), else ~/.genosv1. It does not create the directory; see Ensure.
func StateDir() (string, error) {
	if v := os.Getenv(EnvStateDir); v != "" {
		abs, err := filepath.Abs(v)
		if err != nil {
			return "", fmt.Errorf("resolve %s=%q: %w", EnvStateDir, v, err)
		}
		abs = filepath.Clean(abs)
		if !filepath.IsAbs(abs) {
			return "", fmt.Errorf("%s=%q does not resolve to an absolute path", EnvStateDir, v)
		}
		return abs, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory (set %s to choose a state dir): %w", EnvStateDir, err)
	}
	if home == "" || !filepath.IsAbs(home) {
		return "", fmt.Errorf("home directory %q is not an absolute path (set %s to choose a state dir)", home, EnvStateDir)
	}
	return filepath.Join(home, defaultDirName), nil
}

// Ensure creates dir (and its parents) with mode 0700. If dir already exists
// with looser permissions it is tightened to 0700, because an older install or
// a careless mkdir must not leave secrets readable by other users. It refuses a
// path that exists but is not a directory.
func Ensure(dir string) error {
	if dir == "" {
		return errors.New("ensure state dir: empty path")
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, dirPerm); err != nil {
			return fmt.Errorf("create state dir %s: %w", dir, err)
		}
		if fi, err = os.Stat(dir); err != nil {
			return fmt.Errorf("stat state dir %s: %w", dir, err)
		}
	case err != nil:
		return fmt.Errorf("stat state dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state dir %s exists but is not a directory", dir)
	}
	// Windows has no POSIX mode bits: Chmod there only toggles read-only, and
	// the directory's ACL (inherited from the user profile) is what protects it.
	if runtime.GOOS != "windows" && fi.Mode().Perm() != dirPerm {
		if err := os.Chmod(dir, dirPerm); err != nil {
			return fmt.Errorf("restrict state dir %s to 0700: %w", dir, err)
		}
	}
	return nil
}

// LogDir returns the directory for log files inside stateDir.
func LogDir(stateDir string) string { return filepath.Join(stateDir, "logs") }

// ConfigFile returns the path of the config file inside stateDir.
func ConfigFile(stateDir string) string { return filepath.Join(stateDir, "genos.json") }

// DBFile returns the path of the SQLite database inside stateDir.
func DBFile(stateDir string) string { return filepath.Join(stateDir, "genos.db") }

// TokenFile returns the path of the gateway auth token inside stateDir.
func TokenFile(stateDir string) string { return filepath.Join(stateDir, "gateway.token") }

// AddrFile returns the path where a running gateway records the address it
// actually listens on, so CLI clients find it even with --listen overrides.
func AddrFile(stateDir string) string { return filepath.Join(stateDir, "gateway.addr") }

// SecretsFile returns the path of the pre-vault secret store inside stateDir
// (see config.OpenSecrets).
func SecretsFile(stateDir string) string { return filepath.Join(stateDir, "secrets.json") }

// VaultSecretsFile is the sealed secret store (API keys, channel tokens,
// the audit key) once a vault exists.
func VaultSecretsFile(stateDir string) string { return filepath.Join(stateDir, "vault.enc") }

// BootFile holds the few plaintext settings a locked daemon needs before
// the vault is unlocked (where to listen); see config.Boot.
func BootFile(stateDir string) string { return filepath.Join(stateDir, "gateway.json") }

// InboxFile is the sealed queue of channel messages that arrived while the
// vault was locked; InboxKeyFile is its public (sealing-only) key.
func InboxFile(stateDir string) string { return filepath.Join(stateDir, "inbox.jsonl") }

// InboxKeyFile is the inbox's X25519 public key (plaintext: it can only seal).
func InboxKeyFile(stateDir string) string { return filepath.Join(stateDir, "inbox.pub") }

// LockFile returns the path of the single-instance lock file inside stateDir.
func LockFile(stateDir string) string { return filepath.Join(stateDir, "genos.lock") }

// AgentDir returns the directory of one agent (agents/<id>) inside stateDir.
// agentID must already be validated by the caller; it is joined as is.
func AgentDir(stateDir, agentID string) string {
	return filepath.Join(stateDir, "agents", agentID)
}

// WorkspaceDir returns the workspace directory of one agent
// (workspace/<name>) inside stateDir. name must already be validated by the
// caller; it is joined as is.
func WorkspaceDir(stateDir, name string) string {
	return filepath.Join(stateDir, "workspace", name)
}
