package whatsapp

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeState feeds decodeState what an unsealed store file could hold:
// it must reject or accept without panicking, and what it accepts must
// build a device and encode again.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"sessions":{"1:0":"AAEC"},"preKeys":{"3":{"priv":"AAAA","uploaded":true}},"mutationMacs":{"regular":null}}`))
	f.Add([]byte(`{"version":1,"device":{"jid":"1:2@s.whatsapp.net","noiseKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","identityKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","signedPreKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","signedPreKeySig":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==","advKey":""}}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data)
		if err != nil {
			return
		}
		if st.Device != nil {
			if _, err := st.Device.toDevice(); err != nil {
				t.Fatalf("accepted a device it cannot build: %v", err)
			}
		}
		for name, m := range st.MutationMACs {
			if m == nil {
				t.Fatalf("mutation MAC table %q is nil", name)
			}
		}
		if _, err := json.Marshal(&st); err != nil {
			t.Fatalf("accepted state does not encode: %v", err)
		}
	})
}
