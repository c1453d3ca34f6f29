package whatsapp

import (
	"context"
	"errors"
	"slices"
	"strings"

	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/util/keys"
)

// state is everything whatsmeow keeps for the linked device. It is the
// document that is sealed to disk, so every field is plain data.
type state struct {
	Version       int                                `json:"version"`
	Device        *deviceRecord                      `json:"device,omitempty"`
	Identities    map[string][]byte                  `json:"identities"`
	Sessions      map[string][]byte                  `json:"sessions"`
	PreKeys       map[uint32]preKeyRecord            `json:"preKeys"`
	SenderKeys    map[string][]byte                  `json:"senderKeys"` // chat "\n" sender
	SyncKeys      map[string]store.AppStateSyncKey   `json:"syncKeys"`   // hex key id
	AppVersions   map[string]appVersionRecord        `json:"appVersions"`
	MutationMACs  map[string]map[string]macRecord    `json:"mutationMacs"` // name → hex index MAC
	Contacts      map[string]types.ContactInfo       `json:"contacts"`
	ChatSettings  map[string]types.LocalChatSettings `json:"chatSettings"`
	MsgSecrets    map[string]msgSecretRecord         `json:"msgSecrets"` // chat "\n" sender "\n" id
	PrivacyTokens map[string]privacyTokenRecord      `json:"privacyTokens"`
	Events        map[string]eventRecord             `json:"events"` // hex ciphertext hash
	LIDs          map[string]string                  `json:"lids"`   // LID user → phone user
}

// stateVersion is the format of state written by this code.
const stateVersion = 1

func newState() state {
	return state{
		Version:       stateVersion,
		Identities:    map[string][]byte{},
		Sessions:      map[string][]byte{},
		PreKeys:       map[uint32]preKeyRecord{},
		SenderKeys:    map[string][]byte{},
		SyncKeys:      map[string]store.AppStateSyncKey{},
		AppVersions:   map[string]appVersionRecord{},
		MutationMACs:  map[string]map[string]macRecord{},
		Contacts:      map[string]types.ContactInfo{},
		ChatSettings:  map[string]types.LocalChatSettings{},
		MsgSecrets:    map[string]msgSecretRecord{},
		PrivacyTokens: map[string]privacyTokenRecord{},
		Events:        map[string]eventRecord{},
		LIDs:          map[string]string{},
	}
}

type preKeyRecord struct {
	Priv     []byte `json:"priv"`
	Uploaded bool   `json:"uploaded,omitempty"`
}

var errBadLength = errors.New("stored key has the wrong length")

// --- store.IdentityStore ---

func (s *deviceStore) PutIdentity(ctx context.Context, address string, key [32]byte) error {
	return s.edit(ctx, func(tx *txn) error {
		setKey(tx, s.st.Identities, address, clone(key[:]))
		return nil
	})
}

// deletePrefix removes every key of m that starts with prefix.
func deletePrefix[V any](tx *txn, m map[string]V, prefix string) {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			delKey(tx, m, k)
		}
	}
}

func (s *deviceStore) DeleteAllIdentities(ctx context.Context, phone string) error {
	return s.edit(ctx, func(tx *txn) error {
		deletePrefix(tx, s.st.Identities, phone+":")
		return nil
	})
}

func (s *deviceStore) DeleteIdentity(ctx context.Context, address string) error {
	return s.edit(ctx, func(tx *txn) error {
		delKey(tx, s.st.Identities, address)
		return nil
	})
}

func (s *deviceStore) IsTrustedIdentity(_ context.Context, address string, key [32]byte) (trusted bool, err error) {
	s.view(func() {
		known, ok := s.st.Identities[address]
		switch {
		case !ok:
			trusted = true // unknown identities are trusted and stored later
		case len(known) != 32:
			err = errBadLength
		default:
			trusted = [32]byte(known) == key
		}
	})
	return trusted, err
}

// --- store.SessionStore ---

func (s *deviceStore) GetSession(_ context.Context, address string) (sess []byte, _ error) {
	s.view(func() { sess = clone(s.st.Sessions[address]) })
	return sess, nil
}

func (s *deviceStore) HasSession(_ context.Context, address string) (has bool, _ error) {
	s.view(func() { _, has = s.st.Sessions[address] })
	return has, nil
}

func (s *deviceStore) GetManySessions(_ context.Context, addresses []string) (map[string][]byte, error) {
	if len(addresses) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(addresses))
	s.view(func() {
		for _, a := range addresses {
			out[a] = clone(s.st.Sessions[a])
		}
	})
	return out, nil
}

func (s *deviceStore) PutSession(ctx context.Context, address string, session []byte) error {
	return s.edit(ctx, func(tx *txn) error {
		setKey(tx, s.st.Sessions, address, clone(session))
		return nil
	})
}

func (s *deviceStore) PutManySessions(ctx context.Context, sessions map[string][]byte) error {
	return s.edit(ctx, func(tx *txn) error {
		for a, sess := range sessions {
			setKey(tx, s.st.Sessions, a, clone(sess))
		}
		return nil
	})
}

func (s *deviceStore) DeleteAllSessions(ctx context.Context, phone string) error {
	return s.edit(ctx, func(tx *txn) error {
		deletePrefix(tx, s.st.Sessions, phone+":")
		return nil
	})
}

func (s *deviceStore) DeleteSession(ctx context.Context, address string) error {
	return s.edit(ctx, func(tx *txn) error {
		delKey(tx, s.st.Sessions, address)
		return nil
	})
}

// MigratePNToLID moves the sessions, identities and sender keys kept under
// a phone-number address to the same contact's LID address, once per
// contact per process, as sqlstore does.
func (s *deviceStore) MigratePNToLID(ctx context.Context, pn, lid types.JID) error {
	pnUser, lidUser := pn.SignalAddressUser(), lid.SignalAddressUser()
	return s.edit(ctx, func(tx *txn) error {
		if s.migrated[pnUser] {
			return nil
		}
		s.migrated[pnUser] = true
		prefix := pnUser + ":"
		for _, m := range []map[string][]byte{s.st.Sessions, s.st.Identities, s.st.SenderKeys} {
			moved := map[string]string{} // old key → new key, collected before m changes
			for k := range m {
				chat, addr, grouped := strings.Cut(k, "\n")
				if !grouped {
					chat, addr = "", k
				}
				if strings.HasPrefix(addr, prefix) {
					nk := lidUser + addr[len(pnUser):]
					if grouped {
						nk = chat + "\n" + nk
					}
					moved[k] = nk
				}
			}
			for k, nk := range moved {
				v := m[k]
				delKey(tx, m, k)
				setKey(tx, m, nk, v)
			}
		}
		return nil
	})
}

// --- store.PreKeyStore ---

// nextPreKeyID returns one past the highest stored pre-key id. Caller holds mu.
func (s *deviceStore) nextPreKeyID() uint32 {
	var last uint32
	for id := range s.st.PreKeys {
		last = max(last, id)
	}
	return last + 1
}

func (s *deviceStore) putNewPreKey(tx *txn, id uint32, uploaded bool) *keys.PreKey {
	k := keys.NewPreKey(id)
	setKey(tx, s.st.PreKeys, id, preKeyRecord{Priv: clone(k.Priv[:]), Uploaded: uploaded})
	return k
}

func (s *deviceStore) GenOnePreKey(ctx context.Context) (k *keys.PreKey, err error) {
	err = s.edit(ctx, func(tx *txn) error {
		k = s.putNewPreKey(tx, s.nextPreKeyID(), true)
		return nil
	})
	return k, err
}

// GetOrGenPreKeys returns count pre-keys not yet uploaded, lowest id first,
// generating what is missing.
func (s *deviceStore) GetOrGenPreKeys(ctx context.Context, count uint32) (out []*keys.PreKey, err error) {
	err = s.edit(ctx, func(tx *txn) error {
		ids := make([]uint32, 0, count)
		for id, r := range s.st.PreKeys {
			if !r.Uploaded {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		for _, id := range ids {
			if uint32(len(out)) == count {
				break
			}
			r := s.st.PreKeys[id]
			if len(r.Priv) != 32 {
				return errBadLength
			}
			out = append(out, &keys.PreKey{KeyPair: *keys.NewKeyPairFromPrivateKey([32]byte(r.Priv)), KeyID: id})
		}
		next := s.nextPreKeyID()
		for uint32(len(out)) < count {
			out = append(out, s.putNewPreKey(tx, next, false))
			next++
		}
		return nil
	})
	return out, err
}

func (s *deviceStore) GetPreKey(_ context.Context, id uint32) (k *keys.PreKey, err error) {
	s.view(func() {
		r, ok := s.st.PreKeys[id]
		switch {
		case !ok:
		case len(r.Priv) != 32:
			err = errBadLength
		default:
			k = &keys.PreKey{KeyPair: *keys.NewKeyPairFromPrivateKey([32]byte(r.Priv)), KeyID: id}
		}
	})
	return k, err
}

func (s *deviceStore) RemovePreKey(ctx context.Context, id uint32) error {
	return s.edit(ctx, func(tx *txn) error {
		delKey(tx, s.st.PreKeys, id)
		return nil
	})
}

func (s *deviceStore) MarkPreKeysAsUploaded(ctx context.Context, upToID uint32) error {
	return s.edit(ctx, func(tx *txn) error {
		for id, r := range s.st.PreKeys {
			if id <= upToID && !r.Uploaded {
				r.Uploaded = true
				setKey(tx, s.st.PreKeys, id, r)
			}
		}
		return nil
	})
}

func (s *deviceStore) UploadedPreKeyCount(context.Context) (n int, _ error) {
	s.view(func() {
		for _, r := range s.st.PreKeys {
			if r.Uploaded {
				n++
			}
		}
	})
	return n, nil
}

// --- store.SenderKeyStore ---

func (s *deviceStore) PutSenderKey(ctx context.Context, group, user string, session []byte) error {
	return s.edit(ctx, func(tx *txn) error {
		setKey(tx, s.st.SenderKeys, group+"\n"+user, clone(session))
		return nil
	})
}

func (s *deviceStore) GetSenderKey(_ context.Context, group, user string) (key []byte, _ error) {
	s.view(func() { key = clone(s.st.SenderKeys[group+"\n"+user]) })
	return key, nil
}
