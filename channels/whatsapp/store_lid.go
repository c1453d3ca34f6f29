package whatsapp

import (
	"context"
	"fmt"

	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/types"
)

// The LID map: WhatsApp addresses users by phone number (PN) and by a
// private "LID"; whatsmeow records which LID belongs to which phone.

// altJID returns jid's other address (LID for a phone JID and back) from
// the LID map, or the empty JID. Caller holds mu.
func (s *deviceStore) altJID(jid types.JID) types.JID {
	switch jid.Server {
	case types.HiddenUserServer:
		if pn, ok := s.st.LIDs[jid.User]; ok {
			return types.NewJID(pn, types.DefaultUserServer)
		}
	case types.DefaultUserServer:
		if lid, ok := s.pnToLID[jid.User]; ok {
			return types.NewJID(lid, types.HiddenUserServer)
		}
	}
	return types.EmptyJID
}

// withAlt returns jid (without device) and its alternate address if known.
func (s *deviceStore) withAlt(jid types.JID) []types.JID {
	jid = jid.ToNonAD()
	if alt := s.altJID(jid); !alt.IsEmpty() {
		return []types.JID{jid, alt}
	}
	return []types.JID{jid}
}

// --- store.LIDStore ---

// putLID maps lid to pn, dropping any other LID pn had. Caller holds mu.
func (s *deviceStore) putLID(tx *txn, lid, pn string) {
	if old, ok := s.pnToLID[pn]; ok && old != lid {
		delKey(tx, s.st.LIDs, old)
		delKey(tx, s.pnToLID, pn)
	}
	if oldPN, ok := s.st.LIDs[lid]; ok && oldPN != pn {
		delKey(tx, s.pnToLID, oldPN)
	}
	setKey(tx, s.st.LIDs, lid, pn)
	setKey(tx, s.pnToLID, pn, lid)
}

func (s *deviceStore) PutLIDMapping(ctx context.Context, lid, pn types.JID) error {
	if lid.Server != types.HiddenUserServer || pn.Server != types.DefaultUserServer {
		return fmt.Errorf("invalid PutLIDMapping call %s/%s", lid, pn)
	}
	return s.edit(ctx, func(tx *txn) error {
		s.putLID(tx, lid.User, pn.User)
		return nil
	})
}

// PutManyLIDMappings skips invalid entries, as sqlstore does.
func (s *deviceStore) PutManyLIDMappings(ctx context.Context, mappings []store.LIDMapping) error {
	return s.edit(ctx, func(tx *txn) error {
		for _, m := range mappings {
			if m.LID.Server == types.HiddenUserServer && m.PN.Server == types.DefaultUserServer {
				s.putLID(tx, m.LID.User, m.PN.User)
			}
		}
		return nil
	})
}

func (s *deviceStore) GetPNForLID(_ context.Context, lid types.JID) (out types.JID, err error) {
	if lid.Server != types.HiddenUserServer {
		return types.JID{}, fmt.Errorf("invalid GetPNForLID call with non-LID JID %s", lid)
	}
	s.view(func() {
		if pn, ok := s.st.LIDs[lid.User]; ok {
			out = types.JID{User: pn, Device: lid.Device, Server: types.DefaultUserServer}
		}
	})
	return out, nil
}

func (s *deviceStore) GetLIDForPN(_ context.Context, pn types.JID) (out types.JID, err error) {
	if pn.Server != types.DefaultUserServer {
		return types.JID{}, fmt.Errorf("invalid GetLIDForPN call with non-PN JID %s", pn)
	}
	s.view(func() {
		if lid, ok := s.pnToLID[pn.User]; ok {
			out = types.JID{User: lid, Device: pn.Device, Server: types.HiddenUserServer}
		}
	})
	return out, nil
}

// GetManyLIDsForPNs keeps each device number, which is what the sender's
// per-device encryption needs.
func (s *deviceStore) GetManyLIDsForPNs(_ context.Context, pns []types.JID) (map[types.JID]types.JID, error) {
	if len(pns) == 0 {
		return nil, nil
	}
	out := make(map[types.JID]types.JID, len(pns))
	s.view(func() {
		for _, pn := range pns {
			if pn.Server != types.DefaultUserServer {
				continue
			}
			if lid, ok := s.pnToLID[pn.User]; ok {
				out[pn] = types.JID{User: lid, Device: pn.Device, Server: types.HiddenUserServer}
			}
		}
	})
	return out, nil
}
