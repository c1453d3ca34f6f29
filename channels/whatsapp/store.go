package whatsapp

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"go.mau.fi/whatsmeow/proto/waAdv"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
	waLog "go.mau.fi/whatsmeow/util/log"
)

// deviceStore implements every whatsmeow store interface over maps held in
// memory and persisted as one sealed file. whatsmeow's own sqlstore would
// put the device keys and Signal sessions on disk in plaintext (and needs
// go.mau.fi/util/dbutil, whose dependencies this module does not carry), so
// the state lives here and only sealed bytes ever reach the disk.
//
// It holds a single device, as the adapter links exactly one.
type deviceStore struct {
	path   string
	sealer Sealer
	log    *slog.Logger
	waLog  waLog.Logger

	// txMu admits one decryption transaction at a time; flush takes it too
	// so that a snapshot never contains a half-applied transaction.
	txMu sync.Mutex
	// mu guards st and the derived indexes below.
	mu       sync.Mutex
	st       state
	pnToLID  map[string]string // inverse of st.LIDs
	migrated map[string]bool   // PN signal users already moved to their LID

	persister
}

// txKey marks a context as running inside DoDecryptionTxn.
type txKey struct{}

// txn is the undo log of one decryption transaction: each mutation made
// under it records how to restore what it replaced.
type txn struct {
	owner *deviceStore
	undo  []func()
}

// tx returns the transaction ctx runs under, or nil.
func (s *deviceStore) tx(ctx context.Context) *txn {
	if ctx == nil {
		return nil
	}
	if t, ok := ctx.Value(txKey{}).(*txn); ok && t.owner == s {
		return t
	}
	return nil
}

// setKey stores v under k, recording the previous value in tx if any.
func setKey[K comparable, V any](tx *txn, m map[K]V, k K, v V) {
	if tx != nil {
		old, had := m[k]
		tx.undo = append(tx.undo, func() {
			if had {
				m[k] = old
			} else {
				delete(m, k)
			}
		})
	}
	m[k] = v
}

// delKey removes k, recording the removed value in tx if any.
func delKey[K comparable, V any](tx *txn, m map[K]V, k K) {
	old, had := m[k]
	if !had {
		return
	}
	if tx != nil {
		tx.undo = append(tx.undo, func() { m[k] = old })
	}
	delete(m, k)
}

// clone copies b so that callers can neither change stored bytes nor see
// later changes through a slice they hold.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// edit runs fn under the store lock with the transaction of ctx, then
// schedules a sealed write.
func (s *deviceStore) edit(ctx context.Context, fn func(tx *txn) error) error {
	s.mu.Lock()
	err := fn(s.tx(ctx))
	s.mu.Unlock()
	s.touch()
	return err
}

// view runs fn under the store lock.
func (s *deviceStore) view(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}

// DoDecryptionTxn implements store.EventBuffer: the Signal state changed
// while decrypting one event is kept only if fn succeeds, as the SQL store's
// transaction would. Nested calls join the outer transaction.
func (s *deviceStore) DoDecryptionTxn(ctx context.Context, fn func(context.Context) error) error {
	if s.tx(ctx) != nil {
		return fn(ctx)
	}
	s.txMu.Lock()
	defer s.txMu.Unlock()
	t := &txn{owner: s}
	err := fn(context.WithValue(ctx, txKey{}, t))
	if err != nil {
		s.mu.Lock()
		for i := len(t.undo) - 1; i >= 0; i-- {
			t.undo[i]()
		}
		s.mu.Unlock()
	}
	return err
}

// newDevice creates fresh keys for a device that is not linked yet. Nothing
// is stored until pairing succeeds and whatsmeow calls Save.
func (s *deviceStore) newDevice() (*store.Device, error) {
	var rid [4]byte
	adv := make([]byte, 32)
	if _, err := rand.Read(rid[:]); err != nil {
		return nil, fmt.Errorf("generate registration id: %w", err)
	}
	if _, err := rand.Read(adv); err != nil {
		return nil, fmt.Errorf("generate adv secret: %w", err)
	}
	d := &store.Device{
		NoiseKey:       keys.NewKeyPair(),
		IdentityKey:    keys.NewKeyPair(),
		RegistrationID: binary.BigEndian.Uint32(rid[:]),
		AdvSecretKey:   adv,
	}
	d.SignedPreKey = d.IdentityKey.CreateSignedPreKey(1)
	s.attach(d)
	return d, nil
}

// attach points every store of d at s.
func (s *deviceStore) attach(d *store.Device) {
	d.Log = s.waLog
	d.Identities = s
	d.Sessions = s
	d.PreKeys = s
	d.SenderKeys = s
	d.AppStateKeys = s
	d.AppState = s
	d.Contacts = s
	d.ChatSettings = s
	d.MsgSecrets = s
	d.PrivacyTokens = s
	d.EventBuffer = s
	d.LIDs = s
	d.Container = s
	d.Initialized = true
}

// device returns the linked device, or a new unlinked one when none is
// stored.
func (s *deviceStore) device() (*store.Device, error) {
	s.mu.Lock()
	rec := s.st.Device
	s.mu.Unlock()
	if rec == nil {
		return s.newDevice()
	}
	d, err := rec.toDevice()
	if err != nil {
		return nil, err
	}
	s.attach(d)
	return d, nil
}

// errNoDeviceID mirrors sqlstore.ErrDeviceIDMustBeSet.
var errNoDeviceID = errors.New("device JID must be known before it is stored")

// PutDevice implements store.DeviceContainer. Pairing calls it once the
// phone accepted the link; the keys are written sealed at once rather than
// after the usual delay, since losing them means scanning again.
func (s *deviceStore) PutDevice(ctx context.Context, d *store.Device) error {
	if d.ID == nil {
		return errNoDeviceID
	}
	rec, err := recordDevice(d)
	if err != nil {
		return err
	}
	tx := s.tx(ctx)
	s.mu.Lock()
	if tx != nil {
		old := s.st.Device
		tx.undo = append(tx.undo, func() { s.st.Device = old })
	}
	s.st.Device = rec
	s.mu.Unlock()
	if !d.Initialized {
		s.attach(d)
	}
	if tx != nil {
		// flush would wait for this very transaction.
		s.touch()
		return nil
	}
	return s.flush()
}

// DeleteDevice implements store.DeviceContainer (logout): every key and
// session is dropped and the sealed file removed, as the SQL store's
// cascading delete would.
func (s *deviceStore) DeleteDevice(ctx context.Context, d *store.Device) error {
	if d.ID == nil {
		return errNoDeviceID
	}
	s.mu.Lock()
	s.st = newState()
	s.pnToLID = map[string]string{}
	s.migrated = map[string]bool{}
	s.mu.Unlock()
	return s.flush()
}

// deviceRecord is the persisted form of store.Device.
type deviceRecord struct {
	JID             string `json:"jid"`
	LID             string `json:"lid,omitempty"`
	RegistrationID  uint32 `json:"registrationId"`
	NoiseKey        []byte `json:"noiseKey"`
	IdentityKey     []byte `json:"identityKey"`
	SignedPreKey    []byte `json:"signedPreKey"`
	SignedPreKeyID  uint32 `json:"signedPreKeyId"`
	SignedPreKeySig []byte `json:"signedPreKeySig"`
	AdvKey          []byte `json:"advKey"`
	AdvDetails      []byte `json:"advDetails,omitempty"`
	AdvAccountSig   []byte `json:"advAccountSig,omitempty"`
	AdvAccountKey   []byte `json:"advAccountSigKey,omitempty"`
	AdvDeviceSig    []byte `json:"advDeviceSig,omitempty"`
	Platform        string `json:"platform,omitempty"`
	BusinessName    string `json:"businessName,omitempty"`
	PushName        string `json:"pushName,omitempty"`
	FacebookUUID    []byte `json:"facebookUuid,omitempty"`
	LIDMigrationTS  int64  `json:"lidMigrationTs,omitempty"`
}

func recordDevice(d *store.Device) (*deviceRecord, error) {
	if d.NoiseKey == nil || d.IdentityKey == nil || d.SignedPreKey == nil || d.SignedPreKey.Signature == nil {
		return nil, errors.New("store device: keys missing")
	}
	rec := &deviceRecord{
		JID:             d.ID.String(),
		RegistrationID:  d.RegistrationID,
		NoiseKey:        clone(d.NoiseKey.Priv[:]),
		IdentityKey:     clone(d.IdentityKey.Priv[:]),
		SignedPreKey:    clone(d.SignedPreKey.Priv[:]),
		SignedPreKeyID:  d.SignedPreKey.KeyID,
		SignedPreKeySig: clone(d.SignedPreKey.Signature[:]),
		AdvKey:          clone(d.AdvSecretKey),
		Platform:        d.Platform,
		BusinessName:    d.BusinessName,
		PushName:        d.PushName,
		LIDMigrationTS:  d.LIDMigrationTimestamp,
	}
	if !d.LID.IsEmpty() {
		rec.LID = d.LID.String()
	}
	if a := d.Account; a != nil {
		rec.AdvDetails = clone(a.Details)
		rec.AdvAccountSig = clone(a.AccountSignature)
		rec.AdvAccountKey = clone(a.AccountSignatureKey)
		rec.AdvDeviceSig = clone(a.DeviceSignature)
	}
	var zero [16]byte
	if [16]byte(d.FacebookUUID) != zero {
		rec.FacebookUUID = clone(d.FacebookUUID[:])
	}
	return rec, nil
}

// toDevice rebuilds a store.Device, validating what came off the disk.
func (r *deviceRecord) toDevice() (*store.Device, error) {
	for _, k := range []struct {
		name string
		b    []byte
		n    int
	}{
		{"noise key", r.NoiseKey, 32}, {"identity key", r.IdentityKey, 32},
		{"signed pre-key", r.SignedPreKey, 32}, {"signed pre-key signature", r.SignedPreKeySig, 64},
	} {
		if len(k.b) != k.n {
			return nil, fmt.Errorf("stored device: %s has %d bytes, want %d", k.name, len(k.b), k.n)
		}
	}
	jid, err := types.ParseJID(r.JID)
	if err != nil {
		return nil, fmt.Errorf("stored device: jid: %w", err)
	}
	d := &store.Device{
		ID:                    &jid,
		RegistrationID:        r.RegistrationID,
		NoiseKey:              keys.NewKeyPairFromPrivateKey([32]byte(r.NoiseKey)),
		IdentityKey:           keys.NewKeyPairFromPrivateKey([32]byte(r.IdentityKey)),
		SignedPreKey:          &keys.PreKey{KeyPair: *keys.NewKeyPairFromPrivateKey([32]byte(r.SignedPreKey)), KeyID: r.SignedPreKeyID},
		AdvSecretKey:          clone(r.AdvKey),
		Platform:              r.Platform,
		BusinessName:          r.BusinessName,
		PushName:              r.PushName,
		LIDMigrationTimestamp: r.LIDMigrationTS,
		Account: &waAdv.ADVSignedDeviceIdentity{
			Details:             clone(r.AdvDetails),
			AccountSignature:    clone(r.AdvAccountSig),
			AccountSignatureKey: clone(r.AdvAccountKey),
			DeviceSignature:     clone(r.AdvDeviceSig),
		},
	}
	sig := [64]byte(r.SignedPreKeySig)
	d.SignedPreKey.Signature = &sig
	if r.LID != "" {
		if d.LID, err = types.ParseJID(r.LID); err != nil {
			return nil, fmt.Errorf("stored device: lid: %w", err)
		}
	}
	if len(r.FacebookUUID) == 16 {
		copy(d.FacebookUUID[:], r.FacebookUUID)
	}
	return d, nil
}
