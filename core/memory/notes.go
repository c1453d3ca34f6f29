package memory

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/genos-project/genos/core/vault"
)

// Note files and their limits.
const (
	// MemoryFile is the agent's long-term note, evergreen for search.
	MemoryFile = "MEMORY.md"
	// NotesDir holds the dated notes (memory/YYYY-MM-DD.md) and any other
	// memory/*.md the user keeps.
	NotesDir = "memory"
	// maxNoteBytes bounds one note's plaintext. Notes are written a few
	// lines at a time; anything near this size was not, and reading it
	// whole into memory on every sync would be costly.
	maxNoteBytes = 4 << 20
	// maxSealedNoteBytes bounds a sealed note file: base64 of the largest
	// plaintext plus the envelope.
	maxSealedNoteBytes = maxNoteBytes/3*4 + 4<<10
	// maxNotes bounds how many files of memory/ are indexed.
	maxNotes   = 20000
	dateLayout = "2006-01-02"
)

// validNotePath reports whether p (slash-separated, relative to the
// workspace) names a note: MEMORY.md or memory/<name>.md directly in
// memory/, not hidden.
func validNotePath(p string) bool {
	if p == MemoryFile {
		return true
	}
	name, ok := strings.CutPrefix(p, NotesDir+"/")
	return ok && len(name) > len(".md") && len(name) <= 255 && strings.HasSuffix(name, ".md") &&
		!strings.ContainsAny(name, "/\\\x00") && name[0] != '.' && utf8.ValidString(name)
}

// noteDate returns the date a dated note (memory/YYYY-MM-DD*.md) is about,
// at midnight UTC; false for evergreen notes.
func noteDate(p string) (time.Time, bool) {
	name, ok := strings.CutPrefix(p, NotesDir+"/")
	if !ok || len(name) < len(dateLayout) {
		return time.Time{}, false
	}
	d, err := time.Parse(dateLayout, name[:len(dateLayout)])
	if err != nil {
		return time.Time{}, false
	}
	return d, true
}

// listNotes returns the note paths present in the workspace root, sorted.
// Only regular files count: a symlink, FIFO or directory named like a note
// is not read.
func listNotes(root *os.Root) ([]string, error) {
	var out []string
	if fi, err := root.Lstat(MemoryFile); err == nil && fi.Mode().IsRegular() {
		out = append(out, MemoryFile)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("stat %s: %w", MemoryFile, err)
	}
	dir, err := root.Open(NotesDir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", NotesDir, err)
	}
	defer dir.Close()
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", NotesDir, err)
	}
	for _, e := range entries {
		p := NotesDir + "/" + e.Name()
		if e.Type().IsRegular() && validNotePath(p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	if len(out) > maxNotes {
		out = out[:maxNotes]
	}
	return out, nil
}

// readNote returns the plaintext of the note p. A note that cannot be used
// (too large, binary, sealed without a vault, a damaged envelope) yields a
// non-empty skip reason and no error; err is reserved for failures the
// caller must not paper over, notably one wrapping vault.ErrLocked.
// Invalid UTF-8 is replaced with U+FFFD.
func readNote(root *os.Root, s Sealer, p string) (plain []byte, skip string, err error) {
	// Lstat before opening: opening a FIFO would block, and a symlink is
	// not a note.
	fi, err := root.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", err
	case err != nil:
		return nil, fmt.Sprintf("cannot stat: %v", err), nil
	case !fi.Mode().IsRegular():
		return nil, "not a regular file", nil
	}
	f, err := root.OpenFile(p, os.O_RDONLY|0, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", err
		}
		return nil, fmt.Sprintf("cannot open: %v", err), nil
	}
	defer f.Close()
	fi, err = f.Stat()
	switch {
	case err != nil:
		return nil, fmt.Sprintf("cannot stat: %v", err), nil
	case !fi.Mode().IsRegular():
		return nil, "not a regular file", nil
	case fi.Size() > maxSealedNoteBytes:
		return nil, fmt.Sprintf("%d bytes, more than the %d a note may hold", fi.Size(), maxNoteBytes), nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSealedNoteBytes+1))
	if err != nil {
		return nil, fmt.Sprintf("cannot read: %v", err), nil
	}
	if len(data) > maxSealedNoteBytes {
		return nil, "grew past the size limit while it was read", nil
	}
	if vault.IsSealed(data) {
		if s == nil {
			return nil, "sealed by the vault, and no vault is available here to open it", nil
		}
		pt, err := s.OpenFile(data)
		switch {
		case errors.Is(err, vault.ErrLocked):
			return nil, "", fmt.Errorf("open note %s: %w", p, err)
		case err != nil:
			return nil, fmt.Sprintf("sealed but could not be opened: %v", err), nil
		}
		data = pt
	}
	switch {
	case len(data) > maxNoteBytes:
		return nil, fmt.Sprintf("%d bytes, more than the %d a note may hold", len(data), maxNoteBytes), nil
	case bytes.IndexByte(data, 0) >= 0:
		return nil, "looks like a binary file (it contains NUL bytes)", nil
	case !utf8.Valid(data):
		data = bytes.ToValidUTF8(data, []byte("\uFFFD"))
	}
	return data, "", nil
}

// writeNote replaces the note p with plain, sealed with s when s is set:
// temp file in the same directory, fsync, rename, fsync of the directory,
// so a crash leaves the old note or the new one. Sealing happens before
// anything touches the disk, so a locked vault leaves the note as it was.
func writeNote(root *os.Root, s Sealer, p string, plain []byte) (err error) {
	data := plain
	if s != nil {
		if data, err = s.SealFile(plain); err != nil {
			return fmt.Errorf("seal note %s: %w", p, err)
		}
	}
	dir := path.Dir(p)
	if dir != "." {
		if err := root.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	if fi, err := root.Lstat(p); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("write note %s: not a regular file", p)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(dir, ".genos-tmp-"+hex.EncodeToString(rnd[:]))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write note %s: %w", p, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = root.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write note %s: %w", p, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write note %s: %w", p, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write note %s: %w", p, err)
	}
	if err = root.Rename(tmp, p); err != nil {
		return fmt.Errorf("write note %s: %w", p, err)
	}
	if runtime.GOOS == "windows" {
		return nil // directories cannot be fsynced there; NTFS journals the rename
	}
	d, err := root.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	if err := errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// openWorkspace opens the agent workspace as an os.Root, so no note access
// can leave it, even through a symlink swapped in later.
func openWorkspace(ws string) (*os.Root, error) {
	root, err := os.OpenRoot(ws)
	if err != nil {
		return nil, fmt.Errorf("open workspace: %w", err)
	}
	return root, nil
}
