package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeFrame(t *testing.T) {
	tests := []struct {
		name, in, code string
	}{
		{"request", `{"type":"req","id":"1","method":"health"}`, ""},
		{"request with params", `{"type":"req","id":"1","method":"chat.send","params":{"message":"hi"}}`, ""},
		{"event", `{"type":"event","event":"tick","payload":{"ts":1},"seq":3}`, ""},
		{"response", `{"type":"res","id":"1","ok":true,"payload":{}}`, ""},
		{"not json", `hello`, CodeInvalidRequest},
		{"empty", ``, CodeInvalidRequest},
		{"array", `[1,2]`, CodeInvalidRequest},
		{"no type", `{"id":"1"}`, CodeInvalidRequest},
		{"unknown type", `{"type":"bogus"}`, CodeInvalidRequest},
		{"request without id", `{"type":"req","method":"health"}`, CodeInvalidRequest},
		{"request without method", `{"type":"req","id":"1"}`, CodeInvalidRequest},
		{"params not object", `{"type":"req","id":"1","method":"x","params":[1]}`, CodeInvalidRequest},
		{"unknown field", `{"type":"req","id":"1","method":"x","extra":1}`, CodeInvalidRequest},
		{"trailing data", `{"type":"req","id":"1","method":"x"} {}`, CodeInvalidRequest},
		{"id too long", `{"type":"req","id":"` + strings.Repeat("a", 129) + `","method":"x"}`, CodeInvalidRequest},
		{"response without ok", `{"type":"res","id":"1"}`, CodeInvalidRequest},
		{"event without name", `{"type":"event"}`, CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeFrame([]byte(tt.in))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("DecodeFrame: %v", err)
				}
				return
			}
			if !IsCode(err, tt.code) {
				t.Fatalf("DecodeFrame error = %v, want code %s", err, tt.code)
			}
		})
	}
}

func TestDecodeFrameTooLarge(t *testing.T) {
	big := make([]byte, MaxFrameBytes+1)
	if _, err := DecodeFrame(big); !IsCode(err, CodeTooLarge) {
		t.Fatalf("got %v, want %s", err, CodeTooLarge)
	}
}

func TestDecodeParamsStrict(t *testing.T) {
	var p ChatSendParams
	if err := DecodeParams(json.RawMessage(`{"sessionKey":"a","bogus":1}`), &p); !IsCode(err, CodeInvalidRequest) {
		t.Fatalf("unknown param accepted: %v", err)
	}
	if err := DecodeParams(nil, &p); err != nil {
		t.Fatalf("missing params should decode as empty: %v", err)
	}
	if err := DecodeParams(json.RawMessage(`{"message":"hi","idempotencyKey":"k"}`), &p); err != nil || p.Message != "hi" {
		t.Fatalf("DecodeParams = %+v, %v", p, err)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	req, err := NewRequest("r1", MethodChatSend, ChatSendParams{SessionKey: "agent:0a1b2c3d:main", Message: "hi", IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(req)
	got, err := DecodeFrame(data)
	if err != nil {
		t.Fatal(err)
	}
	var p ChatSendParams
	if err := DecodeParams(got.Params, &p); err != nil || p.Message != "hi" {
		t.Fatalf("round trip lost params: %+v %v", p, err)
	}
	res := NewErrorResponse("r1", Errorf(CodeNotFound, "nope"))
	data, _ = json.Marshal(res)
	got, err = DecodeFrame(data)
	if err != nil || got.Error == nil || got.Error.Code != CodeNotFound || *got.OK {
		t.Fatalf("error response round trip: %+v %v", got, err)
	}
}

// FuzzDecodeFrame checks the decoder never panics and that whatever it
// accepts re-encodes to a frame it accepts again.
func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"req","id":"1","method":"health"}`,
		`{"type":"req","id":"1","method":"chat.send","params":{"sessionKey":"agent:0a1b2c3d:main","message":"hi","idempotencyKey":"k"}}`,
		`{"type":"res","id":"1","ok":false,"error":{"code":"X","message":"y"}}`,
		`{"type":"event","event":"chat","payload":{"state":"delta"},"seq":1}`,
		`{"type":"req","id":"1","method":"x","params":null}`,
		`{`, `null`, `"req"`, "\x00\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeFrame(data)
		if err != nil {
			var e *ErrorShape
			if !asShape(err, &e) {
				t.Fatalf("error is not an ErrorShape: %T %v", err, err)
			}
			return
		}
		again, err := json.Marshal(fr)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := DecodeFrame(again); err != nil {
			t.Fatalf("accepted frame does not survive a round trip: %v\n%s", err, again)
		}
	})
}

func asShape(err error, e **ErrorShape) bool {
	s, ok := err.(*ErrorShape)
	*e = s
	return ok
}
