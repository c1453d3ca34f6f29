package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/vault"
)

// The functions here work on a state dir without a running daemon, for the
// genos vault commands. Those that write take the instance lock, so they
// refuse to run next to a gateway (which holds decrypted data and would
// keep writing under the old key).

// withStateLock runs fn holding the state dir's instance lock and its
// database.
func withStateLock(ctx context.Context, stateDir string, fn func(db *store.DB) error) error {
	if err := paths.Ensure(stateDir); err != nil {
		return err
	}
	l, err := paths.Lock(stateDir)
	if err != nil {
		return fmt.Errorf("%w (quit Genos or stop the gateway first)", err)
	}
	defer l.Release()
	db, err := store.Open(ctx, paths.DBFile(stateDir))
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

// InitVault creates the vault of stateDir and seals everything in it.
func InitVault(ctx context.Context, stateDir string, pass []byte) error {
	if len(pass) < minPassphrase {
		return fmt.Errorf("create vault: the passphrase must be at least %d characters", minPassphrase)
	}
	return withStateLock(ctx, stateDir, func(db *store.DB) error {
		v, err := vault.Create(stateDir, pass, vault.Options{})
		if err != nil {
			return err
		}
		defer v.Lock()
		return migrateState(ctx, stateDir, db, v, discardLogger())
	})
}

// OpenVault unlocks the vault of stateDir for a one-shot command. The
// caller locks it when done.
func OpenVault(stateDir string, pass []byte) (*vault.Vault, error) {
	v, err := vault.Open(stateDir, vault.Options{})
	if err != nil {
		return nil, err
	}
	if err := v.Unlock(pass); err != nil {
		return nil, err
	}
	return v, nil
}

// RekeyVault changes the passphrase of stateDir's vault and re-seals every
// file under a new salt. It is crash-safe: interrupted, the vault opens
// with either passphrase and the next unlock finishes the job.
func RekeyVault(ctx context.Context, stateDir string, oldPass, newPass []byte) error {
	if len(newPass) < minPassphrase {
		return fmt.Errorf("rekey: the new passphrase must be at least %d characters", minPassphrase)
	}
	return withStateLock(ctx, stateDir, func(db *store.DB) error {
		v, err := OpenVault(stateDir, oldPass)
		if err != nil {
			return err
		}
		defer v.Lock()
		if v.RekeyPending() {
			// An earlier rekey was interrupted: finish it first.
			if err := completeRekey(ctx, stateDir, db, v, nil); err != nil {
				return err
			}
		}
		if err := migrateState(ctx, stateDir, db, v, discardLogger()); err != nil {
			return err
		}
		r, err := v.BeginRekey(oldPass, newPass)
		if err != nil {
			return err
		}
		return completeRekey(ctx, stateDir, db, v, r)
	})
}

// completeRekey re-seals everything under the new key and finishes the
// rekey r (or the pending one, when r is nil).
func completeRekey(ctx context.Context, stateDir string, db *store.DB, v *vault.Vault, r *vault.Rekey) error {
	if r == nil {
		var err error
		if r, err = v.ResumeRekey(); err != nil {
			return err
		}
	}
	if _, err := resealState(ctx, stateDir, db, v, true); err != nil {
		return err
	}
	return r.Finish()
}

// finishRekey completes an interrupted rekey found at unlock. The caller
// holds d.mu with the engine stopped.
func (d *Daemon) finishRekey(ctx context.Context) error {
	if err := completeRekey(ctx, d.opts.StateDir, d.db, d.vault, nil); err != nil {
		return err
	}
	d.log.Info("finished an interrupted vault rekey; from now on only the new passphrase unlocks")
	return nil
}

// VaultReport is what genos vault verify found.
type VaultReport struct {
	Files    int      // whole files opened
	Lines    int      // sealed lines opened
	Titles   int      // sealed session titles opened
	Rows     int      // sealed rows opened (pairing, allowlists, memory, embedding cache)
	Plain    []string // files or lines still in plaintext
	Problems []string // files, lines or titles that do not open
}

// VerifyVault opens every sealed file, line and title of stateDir with pass
// and reports what does not open, and what is not sealed at all.
func VerifyVault(ctx context.Context, stateDir string, pass []byte) (VaultReport, error) {
	var rep VaultReport
	v, err := OpenVault(stateDir, pass)
	if err != nil {
		return rep, err
	}
	defer v.Lock()
	files, err := stateFiles(stateDir)
	if err != nil {
		return rep, err
	}
	if isFile(paths.SecretsFile(stateDir)) {
		rep.Plain = append(rep.Plain, paths.SecretsFile(stateDir))
	}
	for _, f := range files {
		data, err := os.ReadFile(f.path)
		if err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			continue
		}
		switch f.kind {
		case wholeFile:
			if !vault.IsSealed(data) {
				rep.Plain = append(rep.Plain, f.path)
			} else if _, err := v.OpenFile(data); err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", f.path, err))
			} else {
				rep.Files++
			}
		case lineFile:
			verifyLines(&rep, v, f.path, data)
		}
	}
	db, err := store.Open(ctx, paths.DBFile(stateDir))
	if err != nil {
		return rep, err
	}
	defer db.Close()
	titles, err := db.SessionTitles(ctx)
	if err != nil {
		return rep, err
	}
	for key, t := range titles {
		if !strings.HasPrefix(t, inlinePrefix) && !strings.HasPrefix(t, linePrefix) {
			rep.Plain = append(rep.Plain, "title of session "+key)
		} else if _, err := v.InlineCodec().DecodeValue([]byte(t)); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("title of session %s: %v", key, err))
		} else {
			rep.Titles++
		}
	}
	codec := v.InlineCodec()
	tables := []struct {
		name    string
		rewrite rowRewriter
	}{{"channel access", db.RewriteChannelAccess}, {"memory", db.RewriteMemory}, {"embedding cache", db.RewriteEmbedCache}}
	for _, t := range tables {
		// Each value is handed back unchanged, so nothing is written.
		_, err := t.rewrite(ctx, func(stored []byte) ([]byte, error) {
			switch {
			case !bytes.HasPrefix(stored, []byte(inlinePrefix)) && !bytes.HasPrefix(stored, []byte(linePrefix)):
				rep.Plain = append(rep.Plain, "a "+t.name+" row")
			default:
				if _, err := codec.DecodeValue(stored); err != nil {
					rep.Problems = append(rep.Problems, fmt.Sprintf("a %s row: %v", t.name, err))
				} else {
					rep.Rows++
				}
			}
			return stored, nil
		})
		if err != nil {
			return rep, fmt.Errorf("check %s rows: %w", t.name, err)
		}
	}
	return rep, nil
}

func verifyLines(rep *VaultReport, v *vault.Vault, path string, data []byte) {
	lines := bytes.Split(data, []byte{'\n'})
	for i, line := range lines {
		if len(line) == 0 {
			continue
		}
		last := i == len(lines)-1
		switch {
		case !bytes.HasPrefix(line, []byte(linePrefix)):
			rep.Plain = append(rep.Plain, fmt.Sprintf("%s line %d", path, i+1))
		default:
			if _, err := v.OpenLine(line); err != nil {
				if last && errors.Is(err, vault.ErrCorrupted) {
					// A torn tail from a crash; the next open cuts it.
					continue
				}
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s line %d: %v", path, i+1, err))
				continue
			}
			rep.Lines++
		}
	}
}
