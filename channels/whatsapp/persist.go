package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Sealer encrypts and decrypts whole files; *vault.Vault satisfies it. The
// adapter never writes a byte to disk that did not come out of SealFile.
type Sealer interface {
	SealFile(plaintext []byte) ([]byte, error)
	OpenFile(sealed []byte) ([]byte, error)
}

// maxStoreFile bounds what is read back from StorePath. A linked device's
// state is a few megabytes; anything far larger is not ours.
const maxStoreFile = 256 << 20

// flushDelay is how long after a change the state is written, so that the
// burst of writes one message causes becomes one sealed write.
const flushDelay = time.Second

// flushRetry is how long a failed write (vault locked, disk full) waits
// before it is tried again.
const flushRetry = 10 * time.Second

// persister writes the store's state sealed, at most flushDelay after a
// change, and once more on close.
type persister struct {
	changed chan struct{} // capacity 1: a pending change
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	writeMu sync.Mutex // one write at a time, in snapshot order
	flushFn func() error
	log     *slog.Logger
}

// touch notes a change; the flusher writes it within flushDelay.
func (p *persister) touch() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// loop is the flusher goroutine.
func (p *persister) loop() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		case <-p.changed:
		}
		delay := flushDelay
		for {
			t := time.NewTimer(delay)
			select {
			case <-p.stop:
				t.Stop()
				return // close writes the final state
			case <-t.C:
			}
			err := p.flushFn()
			if err == nil {
				break
			}
			p.log.Warn("whatsapp store write failed; will retry", "err", err)
			delay = flushRetry
		}
	}
}

// openStore reads the sealed state at path (a missing file is an empty
// store) and starts the flusher. Close stops it.
func openStore(path string, sealer Sealer, log *slog.Logger) (*deviceStore, error) {
	s := &deviceStore{
		path:     path,
		sealer:   sealer,
		log:      log,
		waLog:    newWALog(log, "whatsmeow"),
		st:       newState(),
		pnToLID:  map[string]string{},
		migrated: map[string]bool{},
	}
	s.persister = persister{
		changed: make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		log:     log,
	}
	s.flushFn = s.flush
	if err := s.load(); err != nil {
		return nil, err
	}
	go s.loop()
	return s, nil
}

// load restores the state from the sealed file.
func (s *deviceStore) load() error {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open whatsapp store: %w", err)
	}
	defer f.Close()
	sealed, err := io.ReadAll(io.LimitReader(f, maxStoreFile+1))
	if err != nil {
		return fmt.Errorf("read whatsapp store: %w", err)
	}
	if len(sealed) > maxStoreFile {
		return fmt.Errorf("read whatsapp store: %s is larger than %d bytes", s.path, maxStoreFile)
	}
	plain, err := s.sealer.OpenFile(sealed)
	if err != nil {
		return fmt.Errorf("unseal whatsapp store: %w", err)
	}
	defer clear(plain)
	st, err := decodeState(plain)
	if err != nil {
		return fmt.Errorf("decode whatsapp store %s: %w", s.path, err)
	}
	s.st = st
	for lid, pn := range st.LIDs {
		s.pnToLID[pn] = lid
	}
	return nil
}

// decodeState parses and validates a state document.
func decodeState(plain []byte) (state, error) {
	st := newState()
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return state{}, err
	}
	if dec.More() {
		return state{}, errors.New("trailing data after the state document")
	}
	if st.Version != stateVersion {
		return state{}, fmt.Errorf("unsupported state version %d (this build reads %d)", st.Version, stateVersion)
	}
	if st.Device != nil {
		if _, err := st.Device.toDevice(); err != nil {
			return state{}, err
		}
	}
	// A document may omit empty tables; the maps must exist all the same.
	fresh := newState()
	fillNil(&st.Identities, fresh.Identities)
	fillNil(&st.Sessions, fresh.Sessions)
	fillNil(&st.PreKeys, fresh.PreKeys)
	fillNil(&st.SenderKeys, fresh.SenderKeys)
	fillNil(&st.SyncKeys, fresh.SyncKeys)
	fillNil(&st.AppVersions, fresh.AppVersions)
	fillNil(&st.MutationMACs, fresh.MutationMACs)
	fillNil(&st.Contacts, fresh.Contacts)
	fillNil(&st.ChatSettings, fresh.ChatSettings)
	fillNil(&st.MsgSecrets, fresh.MsgSecrets)
	fillNil(&st.PrivacyTokens, fresh.PrivacyTokens)
	fillNil(&st.Events, fresh.Events)
	fillNil(&st.LIDs, fresh.LIDs)
	for name, m := range st.MutationMACs {
		if m == nil {
			st.MutationMACs[name] = map[string]macRecord{}
		}
	}
	return st, nil
}

func fillNil[M ~map[K]V, K comparable, V any](m *M, empty M) {
	if *m == nil {
		*m = empty
	}
}

// flush writes the current state sealed, or removes the file when no
// device is linked (after logout nothing of the old keys may remain).
func (s *deviceStore) flush() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.txMu.Lock()
	s.mu.Lock()
	linked := s.st.Device != nil
	var plain []byte
	var err error
	if linked {
		plain, err = json.Marshal(&s.st)
	}
	s.mu.Unlock()
	s.txMu.Unlock()
	if err != nil {
		return fmt.Errorf("encode whatsapp store: %w", err)
	}
	if !linked {
		return removeFile(s.path)
	}
	sealed, err := s.sealer.SealFile(plain)
	clear(plain)
	if err != nil {
		return fmt.Errorf("seal whatsapp store: %w", err)
	}
	return writeAtomic(s.path, sealed)
}

// Close stops the flusher and writes the final state.
func (s *deviceStore) Close() error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	return s.flush()
}

// writeAtomic replaces path with data: temp file in the same directory,
// fsync, rename, fsync of the directory.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return syncDir(dir)
}

// removeFile deletes path if it exists and makes the removal durable.
func removeFile(path string) error {
	err := os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
