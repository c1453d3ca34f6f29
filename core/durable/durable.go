// Package durable provides durable file primitives: atomic whole-file
// replacement and append-only files that survive crashes.
package durable

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// WriteFile replaces path with data so that a crash leaves either the old or
// the new content, never a mix: temp file in the same directory (so the
// rename cannot cross file systems), chmod to perm, write, fsync, rename over
// path, fsync the directory so the rename itself is durable. The temp file is
// removed on failure. Errors name path.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// CreateExclusive is WriteFile that refuses to replace an existing file: it
// then fails with an error wrapping fs.ErrExist. It links the temp file into
// place, which fails if path exists, where a rename would silently replace
// it.
func CreateExclusive(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create %s: %w", path, fs.ErrExist)
		}
		// File systems without hard links: check, then rename. Another
		// process could slip in between; callers that need more hold a lock.
		if _, serr := os.Lstat(path); serr == nil {
			return fmt.Errorf("create %s: %w", path, fs.ErrExist)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
		}
	}
	return SyncDir(filepath.Dir(path))
}

// writeTemp writes data to a new temp file next to path with mode perm,
// fsyncs and closes it, and returns its name. On failure nothing is left.
func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("create temp file for %s: %w", path, err)
	}
	name := f.Name()
	// CreateTemp already uses 0600; Chmod makes perm explicit and exact,
	// whatever the umask. Windows has only a read-only bit, so skip it there.
	if runtime.GOOS != "windows" {
		err = f.Chmod(perm)
	}
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
		_ = os.Remove(name)
		return "", fmt.Errorf("write temp file %s: %w", name, err)
	}
	return name, nil
}

// SyncDir fsyncs dir so that a create or rename inside it survives a crash.
// It does nothing on Windows: directories cannot be opened for fsync there,
// and NTFS journals the metadata change itself.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	if err := errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// OpenAppendOnly opens path read-write for appending records, creating it
// (mode 0600, missing parent directories 0700) if it does not exist; created
// reports which. A new file's directory entry is fsynced before returning, so
// a crash cannot lose the file along with records already appended. An
// existing path that is not a regular file (a directory, FIFO, device) is
// refused. The caller positions its writes (WriteAt) and fsyncs them.
func OpenAppendOnly(path string) (f *os.File, created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		if err := SyncDir(dir); err != nil {
			_ = f.Close()
			return nil, false, err
		}
		return f, true, nil
	}
	if !errors.Is(err, os.ErrExist) {
		return nil, false, err
	}
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, false, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, false, errors.New("not a regular file")
	}
	return f, false, nil
}

// LastNewline returns the offset of the last '\n' in r before end, or -1 if
// there is none. It reads backwards in 64 KiB chunks, so finding the last
// line of a large file costs about one chunk.
func LastNewline(r io.ReaderAt, end int64) (int64, error) {
	buf := make([]byte, 64<<10)
	for end > 0 {
		n := min(int64(len(buf)), end)
		off := end - n
		if _, err := r.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return off + int64(i), nil
		}
		end = off
	}
	return -1, nil
}
