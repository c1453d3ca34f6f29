package whatsapp

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
)

// This file holds the app-state, contact, chat-setting, message-secret,
// privacy-token and event-buffer stores (the LID map is in store_lid.go).
// Semantics follow sqlstore (go.mau.fi/whatsmeow/store/sqlstore) query by
// query.

type appVersionRecord struct {
	Version uint64 `json:"version"`
	Hash    []byte `json:"hash"`
}

type macRecord struct {
	Version  uint64 `json:"version"`
	ValueMAC []byte `json:"valueMac"`
}

type msgSecretRecord struct {
	Sender string `json:"sender"`
	Secret []byte `json:"secret"`
}

type privacyTokenRecord struct {
	Token     []byte `json:"token"`
	Timestamp int64  `json:"ts"`
}

type eventRecord struct {
	Plaintext  []byte `json:"plaintext,omitempty"`
	ServerTime int64  `json:"serverTs"`
	InsertTime int64  `json:"insertMs"`
}

// --- store.AppStateSyncKeyStore ---

func (s *deviceStore) PutAppStateSyncKey(ctx context.Context, id []byte, key store.AppStateSyncKey) error {
	return s.edit(ctx, func(tx *txn) error {
		k := hex.EncodeToString(id)
		// Like the SQL upsert: an existing key is replaced only by a newer one.
		if old, ok := s.st.SyncKeys[k]; ok && key.Timestamp <= old.Timestamp {
			return nil
		}
		setKey(tx, s.st.SyncKeys, k, store.AppStateSyncKey{Data: clone(key.Data), Fingerprint: clone(key.Fingerprint), Timestamp: key.Timestamp})
		return nil
	})
}

func (s *deviceStore) GetAppStateSyncKey(_ context.Context, id []byte) (out *store.AppStateSyncKey, _ error) {
	s.view(func() {
		if k, ok := s.st.SyncKeys[hex.EncodeToString(id)]; ok {
			out = &store.AppStateSyncKey{Data: clone(k.Data), Fingerprint: clone(k.Fingerprint), Timestamp: k.Timestamp}
		}
	})
	return out, nil
}

func (s *deviceStore) GetLatestAppStateSyncKeyID(context.Context) (id []byte, err error) {
	s.view(func() {
		var best string
		var bestTS int64
		for k, v := range s.st.SyncKeys {
			if best == "" || v.Timestamp > bestTS || (v.Timestamp == bestTS && k > best) {
				best, bestTS = k, v.Timestamp
			}
		}
		if best != "" {
			id, err = hex.DecodeString(best)
		}
	})
	return id, err
}

// --- store.AppStateStore ---

func (s *deviceStore) PutAppStateVersion(ctx context.Context, name string, version uint64, hash [128]byte) error {
	return s.edit(ctx, func(tx *txn) error {
		setKey(tx, s.st.AppVersions, name, appVersionRecord{Version: version, Hash: clone(hash[:])})
		return nil
	})
}

func (s *deviceStore) GetAppStateVersion(_ context.Context, name string) (version uint64, hash [128]byte, err error) {
	s.view(func() {
		r, ok := s.st.AppVersions[name]
		switch {
		case !ok: // version 0 and an empty hash are the initial state
		case len(r.Hash) != 128:
			err = errBadLength
		default:
			version, hash = r.Version, [128]byte(r.Hash)
		}
	})
	return version, hash, err
}

// DeleteAppStateVersion also drops the name's mutation MACs, as the SQL
// foreign key cascades.
func (s *deviceStore) DeleteAppStateVersion(ctx context.Context, name string) error {
	return s.edit(ctx, func(tx *txn) error {
		delKey(tx, s.st.AppVersions, name)
		delKey(tx, s.st.MutationMACs, name)
		return nil
	})
}

// macsFor returns the MAC table of name, creating it (undoably) if needed.
func (s *deviceStore) macsFor(tx *txn, name string) map[string]macRecord {
	m, ok := s.st.MutationMACs[name]
	if !ok {
		m = map[string]macRecord{}
		setKey(tx, s.st.MutationMACs, name, m)
	}
	return m
}

func (s *deviceStore) PutAppStateMutationMACs(ctx context.Context, name string, version uint64, mutations []store.AppStateMutationMAC) error {
	if len(mutations) == 0 {
		return nil
	}
	return s.edit(ctx, func(tx *txn) error {
		m := s.macsFor(tx, name)
		for _, mu := range mutations {
			k := hex.EncodeToString(mu.IndexMAC)
			// SQL keeps a row per version and reads the newest one.
			if old, ok := m[k]; ok && old.Version > version {
				continue
			}
			setKey(tx, m, k, macRecord{Version: version, ValueMAC: clone(mu.ValueMAC)})
		}
		return nil
	})
}

func (s *deviceStore) DeleteAppStateMutationMACs(ctx context.Context, name string, indexMACs [][]byte) error {
	if len(indexMACs) == 0 {
		return nil
	}
	return s.edit(ctx, func(tx *txn) error {
		m, ok := s.st.MutationMACs[name]
		if !ok {
			return nil
		}
		for _, im := range indexMACs {
			delKey(tx, m, hex.EncodeToString(im))
		}
		return nil
	})
}

func (s *deviceStore) GetAppStateMutationMAC(_ context.Context, name string, indexMAC []byte) (mac []byte, _ error) {
	s.view(func() {
		if r, ok := s.st.MutationMACs[name][hex.EncodeToString(indexMAC)]; ok {
			mac = clone(r.ValueMAC)
		}
	})
	return mac, nil
}

// --- store.ContactStore ---

// putContact applies change to the contact of user and reports the value
// it replaced. Caller holds mu.
func (s *deviceStore) putContact(tx *txn, user types.JID, change func(*types.ContactInfo)) {
	k := user.String()
	c := s.st.Contacts[k]
	change(&c)
	c.Found = true
	setKey(tx, s.st.Contacts, k, c)
}

func (s *deviceStore) PutPushName(ctx context.Context, user types.JID, pushName string) (changed bool, previous string, err error) {
	err = s.edit(ctx, func(tx *txn) error {
		if previous = s.st.Contacts[user.String()].PushName; previous != pushName {
			changed = true
			s.putContact(tx, user, func(c *types.ContactInfo) { c.PushName = pushName })
		} else {
			previous = ""
		}
		return nil
	})
	return changed, previous, err
}

func (s *deviceStore) PutBusinessName(ctx context.Context, user types.JID, businessName string) (changed bool, previous string, err error) {
	err = s.edit(ctx, func(tx *txn) error {
		if previous = s.st.Contacts[user.String()].BusinessName; previous != businessName {
			changed = true
			s.putContact(tx, user, func(c *types.ContactInfo) { c.BusinessName = businessName })
		} else {
			previous = ""
		}
		return nil
	})
	return changed, previous, err
}

// PutContactName takes (firstName, fullName) in that order, as sqlstore's
// implementation does, whatever the interface's parameter names say.
func (s *deviceStore) PutContactName(ctx context.Context, user types.JID, firstName, fullName string) error {
	return s.edit(ctx, func(tx *txn) error {
		s.putContact(tx, user, func(c *types.ContactInfo) { c.FirstName, c.FullName = firstName, fullName })
		return nil
	})
}

func (s *deviceStore) PutAllContactNames(ctx context.Context, contacts []store.ContactEntry) error {
	return s.edit(ctx, func(tx *txn) error {
		for _, e := range contacts { // later duplicates win, as in sqlstore
			s.putContact(tx, e.JID, func(c *types.ContactInfo) { c.FirstName, c.FullName = e.FirstName, e.FullName })
		}
		return nil
	})
}

func (s *deviceStore) PutManyRedactedPhones(ctx context.Context, entries []store.RedactedPhoneEntry) error {
	return s.edit(ctx, func(tx *txn) error {
		for _, e := range entries {
			s.putContact(tx, e.JID, func(c *types.ContactInfo) { c.RedactedPhone = e.RedactedPhone })
		}
		return nil
	})
}

func (s *deviceStore) GetContact(_ context.Context, user types.JID) (c types.ContactInfo, _ error) {
	s.view(func() { c = s.st.Contacts[user.String()] })
	return c, nil
}

func (s *deviceStore) GetAllContacts(context.Context) (map[types.JID]types.ContactInfo, error) {
	out := map[types.JID]types.ContactInfo{}
	var err error
	s.view(func() {
		for k, c := range s.st.Contacts {
			jid, perr := types.ParseJID(k)
			if perr != nil {
				err = fmt.Errorf("stored contact %q: %w", k, perr)
				return
			}
			out[jid] = c
		}
	})
	return out, err
}

// --- store.ChatSettingsStore ---

func (s *deviceStore) putChatSetting(ctx context.Context, chat types.JID, change func(*types.LocalChatSettings)) error {
	return s.edit(ctx, func(tx *txn) error {
		k := chat.String()
		c := s.st.ChatSettings[k]
		change(&c)
		c.Found = true
		setKey(tx, s.st.ChatSettings, k, c)
		return nil
	})
}

func (s *deviceStore) PutMutedUntil(ctx context.Context, chat types.JID, mutedUntil time.Time) error {
	return s.putChatSetting(ctx, chat, func(c *types.LocalChatSettings) { c.MutedUntil = mutedUntil })
}

func (s *deviceStore) PutPinned(ctx context.Context, chat types.JID, pinned bool) error {
	return s.putChatSetting(ctx, chat, func(c *types.LocalChatSettings) { c.Pinned = pinned })
}

func (s *deviceStore) PutArchived(ctx context.Context, chat types.JID, archived bool) error {
	return s.putChatSetting(ctx, chat, func(c *types.LocalChatSettings) { c.Archived = archived })
}

func (s *deviceStore) GetChatSettings(_ context.Context, chat types.JID) (c types.LocalChatSettings, _ error) {
	s.view(func() { c = s.st.ChatSettings[chat.String()] })
	return c, nil
}

// --- store.MsgSecretStore ---

func msgSecretKey(chat, sender types.JID, id types.MessageID) string {
	return chat.ToNonAD().String() + "\n" + sender.ToNonAD().String() + "\n" + id
}

func (s *deviceStore) PutMessageSecrets(ctx context.Context, inserts []store.MessageSecretInsert) error {
	return s.edit(ctx, func(tx *txn) error {
		for _, in := range inserts {
			s.putMsgSecret(tx, in.Chat, in.Sender, in.ID, in.Secret)
		}
		return nil
	})
}

func (s *deviceStore) PutMessageSecret(ctx context.Context, chat, sender types.JID, id types.MessageID, secret []byte) error {
	return s.edit(ctx, func(tx *txn) error {
		s.putMsgSecret(tx, chat, sender, id, secret)
		return nil
	})
}

// putMsgSecret keeps the first secret stored for a message (ON CONFLICT DO
// NOTHING). Caller holds mu.
func (s *deviceStore) putMsgSecret(tx *txn, chat, sender types.JID, id types.MessageID, secret []byte) {
	k := msgSecretKey(chat, sender, id)
	if _, ok := s.st.MsgSecrets[k]; ok {
		return
	}
	setKey(tx, s.st.MsgSecrets, k, msgSecretRecord{Sender: sender.ToNonAD().String(), Secret: clone(secret)})
}

func (s *deviceStore) GetMessageSecret(_ context.Context, chat, sender types.JID, id types.MessageID) (secret []byte, realSender types.JID, err error) {
	s.view(func() {
		for _, c := range s.withAlt(chat) {
			for _, snd := range s.withAlt(sender) {
				r, ok := s.st.MsgSecrets[msgSecretKey(c, snd, id)]
				if !ok {
					continue
				}
				secret = clone(r.Secret)
				realSender, err = types.ParseJID(r.Sender)
				return
			}
		}
	})
	return secret, realSender, err
}

// --- store.PrivacyTokenStore ---

func (s *deviceStore) PutPrivacyTokens(ctx context.Context, tokens ...store.PrivacyToken) error {
	return s.edit(ctx, func(tx *txn) error {
		for _, t := range tokens {
			setKey(tx, s.st.PrivacyTokens, t.User.ToNonAD().String(), privacyTokenRecord{Token: clone(t.Token), Timestamp: t.Timestamp.Unix()})
		}
		return nil
	})
}

// GetPrivacyToken returns the newest token stored under the user's phone or
// LID address.
func (s *deviceStore) GetPrivacyToken(_ context.Context, user types.JID) (out *store.PrivacyToken, _ error) {
	s.view(func() {
		for _, u := range s.withAlt(user) {
			r, ok := s.st.PrivacyTokens[u.String()]
			if !ok || (out != nil && out.Timestamp.Unix() >= r.Timestamp) {
				continue
			}
			out = &store.PrivacyToken{User: user.ToNonAD(), Token: clone(r.Token), Timestamp: time.Unix(r.Timestamp, 0)}
		}
	})
	return out, nil
}

// --- store.EventBuffer ---

func (s *deviceStore) GetBufferedEvent(_ context.Context, hash [32]byte) (out *store.BufferedEvent, _ error) {
	s.view(func() {
		if r, ok := s.st.Events[hex.EncodeToString(hash[:])]; ok {
			out = &store.BufferedEvent{Plaintext: clone(r.Plaintext), ServerTime: time.Unix(r.ServerTime, 0), InsertTime: time.UnixMilli(r.InsertTime)}
		}
	})
	return out, nil
}

func (s *deviceStore) PutBufferedEvent(ctx context.Context, hash [32]byte, plaintext []byte, serverTime time.Time) error {
	return s.edit(ctx, func(tx *txn) error {
		setKey(tx, s.st.Events, hex.EncodeToString(hash[:]), eventRecord{Plaintext: clone(plaintext), ServerTime: serverTime.Unix(), InsertTime: time.Now().UnixMilli()})
		return nil
	})
}

func (s *deviceStore) ClearBufferedEventPlaintext(ctx context.Context, hash [32]byte) error {
	return s.edit(ctx, func(tx *txn) error {
		k := hex.EncodeToString(hash[:])
		if r, ok := s.st.Events[k]; ok {
			r.Plaintext = nil
			setKey(tx, s.st.Events, k, r)
		}
		return nil
	})
}

// eventBufferTTL is how long WhatsApp's servers may redeliver an event.
const eventBufferTTL = 14 * 24 * time.Hour

func (s *deviceStore) DeleteOldBufferedHashes(ctx context.Context) error {
	cutoff := time.Now().Add(-eventBufferTTL).UnixMilli()
	return s.edit(ctx, func(tx *txn) error {
		for k, r := range s.st.Events {
			if r.InsertTime < cutoff {
				delKey(tx, s.st.Events, k)
			}
		}
		return nil
	})
}
