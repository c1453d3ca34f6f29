package toon_test

import (
	"fmt"

	"github.com/genos-project/genos/core/toon"
)

func Example() {
	v, err := toon.FromJSON([]byte(`{"users":[{"id":1,"name":"Ada"},{"id":2,"name":"Bob, Jr"}],"tags":["a","b"]}`))
	if err != nil {
		panic(err)
	}
	out, err := toon.Marshal(v, toon.EncodeOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(out))

	back, err := toon.Unmarshal(out, toon.DefaultDecodeOptions())
	if err != nil {
		panic(err)
	}
	js, _ := toon.ToJSON(back)
	fmt.Println(string(js))
	// Output:
	// users[2]{id,name}:
	//   1,Ada
	//   2,"Bob, Jr"
	// tags[2]: a,b
	// {"users":[{"id":1,"name":"Ada"},{"id":2,"name":"Bob, Jr"}],"tags":["a","b"]}
}
