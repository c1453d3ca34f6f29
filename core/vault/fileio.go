package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// writeAtomic replaces path with data: temp file in the same directory (so the
// rename cannot cross file systems), fsync, rename, fsync of the directory (so
// the rename itself survives a crash). The temp file is removed on failure.
func writeAtomic(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename into place: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

// createExclusive is writeAtomic that refuses to replace an existing file
// (ErrExists). It links the temp file into place, which fails if path exists,
// where a rename would silently replace it.
func createExclusive(path string, data []byte) error {
	tmp, err := writeTemp(path, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		// File systems without hard links: check, then rename. Another
		// process could slip in between; the state-dir lock rules that out.
		if _, serr := os.Lstat(path); serr == nil {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("rename into place: %w", err)
		}
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data to a new 0600 temp file next to path, fsyncs and
// closes it, and returns its name.
func writeTemp(path string, data []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("create temp file: %w", err)
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("write temp file %s: %w", name, err)
	}
	return name, nil
}
