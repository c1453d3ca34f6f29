package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/durable"
	"github.com/genos-project/genos/core/paths"
	"github.com/genos-project/genos/core/store"
	"github.com/genos-project/genos/core/vault"
)

// WhatsAppStoreFile is where the WhatsApp adapter keeps its device keys
// and Signal sessions, always sealed.
const WhatsAppStoreFile = "whatsapp.store"

// sealedMarker records that every file of the state dir has been sealed
// once. After it exists, transcripts and the audit log are read strictly:
// a plaintext line in them is an injection, not a legacy record.
const sealedMarker = "vault.sealed"

// linePrefix starts a sealed line; inlinePrefix a sealed database value
// (session titles).
const (
	linePrefix   = "NXLN:"
	inlinePrefix = "NYXENC1:"
)

// fileKind says how a file of the state dir is sealed.
type fileKind int

const (
	wholeFile fileKind = iota // NYXENC1 file form
	lineFile                  // one NXLN: line per record
)

// sealedFile is one file that holds user data.
type sealedFile struct {
	path string
	kind fileKind
}

// stateFiles lists every file of dir that the vault seals: the config and
// secrets, agent files and workspaces, transcripts and the audit log. The
// token, boot settings, lock, address, database (sealed per column) and the
// vault's own files are not among them.
func stateFiles(dir string) ([]sealedFile, error) {
	var out []sealedFile
	for _, p := range []string{paths.ConfigFile(dir), paths.VaultSecretsFile(dir), filepath.Join(dir, WhatsAppStoreFile)} {
		if isFile(p) {
			out = append(out, sealedFile{p, wholeFile})
		}
	}
	if isFile(AuditFile(dir)) {
		out = append(out, sealedFile{AuditFile(dir), lineFile})
	}
	agents, err := filepath.Glob(filepath.Join(dir, "agents", "*", "agent.json"))
	if err != nil {
		return nil, err
	}
	for _, p := range agents {
		out = append(out, sealedFile{p, wholeFile})
	}
	ts, err := filepath.Glob(filepath.Join(dir, "agents", "*", "sessions", "*.jsonl"))
	if err != nil {
		return nil, err
	}
	for _, p := range ts {
		out = append(out, sealedFile{p, lineFile})
	}
	// Agent workspaces and channel attachments: every regular file.
	for _, sub := range []string{"workspace", "media"} {
		root := filepath.Join(dir, sub)
		err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == root {
				return filepath.SkipDir
			}
			if err != nil {
				return err
			}
			// Symlinks are not followed: what they point at is outside
			// the state dir, or is sealed where it lives.
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".genos-tmp") {
				out = append(out, sealedFile{p, wholeFile})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s files: %w", sub, err)
		}
	}
	return out, nil
}

func isFile(p string) bool {
	st, err := os.Lstat(p)
	return err == nil && st.Mode().IsRegular()
}

// migrateState seals whatever a state dir holds in plaintext, once: on the
// first unlock after the vault was created (or after an upgrade from a
// version without one). Every file is replaced atomically on its own, and
// readers accept both forms until the marker is written, so a crash part
// way leaves a readable state dir and the next unlock carries on.
func migrateState(ctx context.Context, dir string, db *store.DB, v *vault.Vault, log *slog.Logger) error {
	marker := filepath.Join(dir, sealedMarker)
	if isFile(marker) && !isFile(paths.SecretsFile(dir)) {
		return nil
	}
	n, err := resealState(ctx, dir, db, v, false)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("sealed the state directory", "files", n)
	}
	return durable.WriteFile(marker, []byte("sealed\n"), 0o600)
}

// resealState seals every plaintext file, line and title of dir with the
// vault's current key; with all set it also re-seals what is sealed already
// (rekey). It returns how many files or rows it rewrote.
func resealState(ctx context.Context, dir string, db *store.DB, v *vault.Vault, all bool) (int, error) {
	n := 0
	// Index snapshots are caches: rather than re-seal them, drop them and
	// let the next unlock write them under the current key.
	if err := removeMemorySnapshots(dir); err != nil {
		return n, fmt.Errorf("remove memory index snapshots: %w", err)
	}
	moved, err := moveSecrets(dir, v)
	if err != nil {
		return n, err
	}
	if moved {
		n++
	}
	files, err := stateFiles(dir)
	if err != nil {
		return n, err
	}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var changed bool
		switch f.kind {
		case wholeFile:
			changed, err = resealWhole(f.path, v, all)
		case lineFile:
			changed, err = resealLines(f.path, v, all)
		}
		if err != nil {
			return n, err
		}
		if changed {
			n++
		}
	}
	t, err := resealTitles(ctx, db, v, all)
	if err != nil {
		return n + t, err
	}
	a, err := resealRows(ctx, db, v, all, db.RewriteChannelAccess, db.RewriteMemory, dropDamaged(db.RewriteEmbedCache))
	return n + t + a, err
}

// rowRewriter passes every sealed value of some tables through fn (see
// store.DB.RewriteChannelAccess).
type rowRewriter func(ctx context.Context, fn func(stored []byte) ([]byte, error)) (int, error)

// resealRows seals the rows of sealed-column tables (pairing, allowlists,
// memory, the embedding cache: plaintext before the vault existed) or
// re-seals them under the current key, then scrubs the old values from the
// database file.
func resealRows(ctx context.Context, db *store.DB, v *vault.Vault, all bool, rewriters ...rowRewriter) (int, error) {
	total := 0
	for _, rw := range rewriters {
		n, err := resealTable(ctx, v, all, rw)
		total += n
		if err != nil {
			return total, err
		}
	}
	if total == 0 {
		return 0, nil
	}
	return total, db.Scrub(ctx)
}

// dropDamaged makes a cache's rewrite delete rows that cannot be opened
// instead of failing: a cached vector is only a saved request, not data.
func dropDamaged(rw rowRewriter) rowRewriter {
	return func(ctx context.Context, fn func([]byte) ([]byte, error)) (int, error) {
		return rw(ctx, func(stored []byte) ([]byte, error) {
			out, err := fn(stored)
			if err != nil && !errors.Is(err, vault.ErrLocked) {
				return nil, nil // nil deletes the row (store.DB.RewriteEmbedCache)
			}
			return out, err
		})
	}
}

func resealTable(ctx context.Context, v *vault.Vault, all bool, rewrite rowRewriter) (int, error) {
	codec := v.InlineCodec()
	return rewrite(ctx, func(stored []byte) ([]byte, error) {
		sealed := bytes.HasPrefix(stored, []byte(inlinePrefix)) || bytes.HasPrefix(stored, []byte(linePrefix))
		if sealed && !all {
			return stored, nil
		}
		plain := stored
		if sealed {
			var err error
			if plain, err = codec.DecodeValue(stored); err != nil {
				return nil, err
			}
		}
		return codec.EncodeValue(plain)
	})
}

// moveSecrets moves the plaintext secrets.json into vault.enc. A secret
// already in vault.enc wins (it is the newer one); the plaintext file is
// removed only after vault.enc holds everything.
func moveSecrets(dir string, v *vault.Vault) (bool, error) {
	plainPath := paths.SecretsFile(dir)
	if !isFile(plainPath) {
		return false, nil
	}
	plain, err := config.OpenSecrets(plainPath)
	if err != nil {
		return false, err
	}
	sealed, err := config.OpenSecretsSealed(paths.VaultSecretsFile(dir), v)
	if err != nil {
		return false, err
	}
	for _, name := range plain.Names() {
		if _, ok := sealed.Get(name); ok {
			continue
		}
		val, _ := plain.Get(name)
		if err := sealed.Set(name, val); err != nil {
			return false, err
		}
	}
	if err := os.Remove(plainPath); err != nil {
		return false, fmt.Errorf("remove %s after sealing it: %w", plainPath, err)
	}
	return true, durable.SyncDir(dir)
}

// resealWhole seals one whole file (or re-seals it, with all).
func resealWhole(path string, v *vault.Vault, all bool) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	plain := data
	if vault.IsSealed(data) {
		if !all {
			return false, nil
		}
		if plain, err = v.OpenFile(data); err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
	}
	out, err := v.SealFile(plain)
	if err != nil {
		return false, err
	}
	return true, durable.WriteFile(path, out, 0o600)
}

// resealLines seals the lines of an append-only file. A last line without
// its newline was never acknowledged (a crash cut it); it is kept only if
// it is whole.
func resealLines(path string, v *vault.Vault, all bool) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	var out bytes.Buffer
	changed := false
	lines := bytes.Split(data, []byte{'\n'})
	for i, line := range lines {
		last := i == len(lines)-1
		if len(line) == 0 {
			continue
		}
		sealed := bytes.HasPrefix(line, []byte(linePrefix))
		if sealed && !all {
			out.Write(line)
			out.WriteByte('\n')
			changed = changed || last // a newline was missing
			continue
		}
		plain := line
		if sealed {
			if plain, err = v.OpenLine(line); err != nil {
				if last {
					changed = true // a torn tail: drop it
					continue
				}
				return false, fmt.Errorf("%s line %d: %w", path, i+1, err)
			}
		} else if t := bytes.TrimLeft(line, " \t"); len(t) == 0 || t[0] != '{' {
			if last {
				changed = true
				continue
			}
			return false, fmt.Errorf("%s line %d: %w: neither sealed nor a JSON record", path, i+1, vault.ErrCorrupted)
		}
		enc, err := v.SealLine(plain)
		if err != nil {
			return false, err
		}
		out.Write(enc)
		out.WriteByte('\n')
		changed = true
	}
	if !changed {
		return false, nil
	}
	return true, durable.WriteFile(path, out.Bytes(), 0o600)
}

// resealTitles seals session titles (inline form) in the database and
// scrubs the old values out of the file.
func resealTitles(ctx context.Context, db *store.DB, v *vault.Vault, all bool) (int, error) {
	titles, err := db.SessionTitles(ctx)
	if err != nil {
		return 0, err
	}
	codec := v.InlineCodec()
	n := 0
	for key, t := range titles {
		plain := []byte(t)
		switch {
		case strings.HasPrefix(t, inlinePrefix) && !all:
			continue
		case strings.HasPrefix(t, inlinePrefix) || strings.HasPrefix(t, linePrefix):
			if plain, err = codec.DecodeValue([]byte(t)); err != nil {
				return n, fmt.Errorf("title of session %s: %w", key, err)
			}
		}
		enc, err := codec.EncodeValue(plain)
		if err != nil {
			return n, err
		}
		if err := db.SetSessionTitle(ctx, key, string(enc)); err != nil {
			return n, err
		}
		n++
	}
	if n > 0 {
		return n, db.Scrub(ctx)
	}
	return n, nil
}
