package embed

import (
	"encoding/json"
	"math"
	"testing"
)

// FuzzReply feeds arbitrary /embeddings replies through decoding and
// validation: nothing may panic, and an accepted reply must yield exactly two
// finite unit-length vectors of one dimension.
func FuzzReply(f *testing.F) {
	f.Add([]byte(`{"data":[{"index":1,"embedding":[0,1]},{"index":0,"embedding":[3,4]}],"model":"m"}`))
	f.Add([]byte(`{"data":[{"index":0,"embedding":[1e300,1]},{"index":1,"embedding":[0,0]}]}`))
	f.Add([]byte(`{"data":[{"index":0,"embedding":[]},{"index":0,"embedding":[1]}]}`))
	f.Add([]byte(`{"error":{"message":"bad"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var reply wireReply
		if json.Unmarshal(body, &reply) != nil {
			return
		}
		e, err := NewOpenAI(OpenAIOptions{BaseURL: "http://127.0.0.1:1/v1", Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		vecs, err := e.validate(reply, 2)
		if err != nil {
			return
		}
		if len(vecs) != 2 || len(vecs[0]) != len(vecs[1]) || len(vecs[0]) != e.Dimensions() {
			t.Fatalf("accepted reply gave %d vectors, dims %d, Dimensions() %d", len(vecs), len(vecs[0]), e.Dimensions())
		}
		for _, v := range vecs {
			var s float64
			for _, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					t.Fatalf("non-finite component in %v", v)
				}
				s += float64(x) * float64(x)
			}
			if math.Abs(s-1) > 1e-3 {
				t.Fatalf("vector %v has squared norm %v", v, s)
			}
		}
	})
}
