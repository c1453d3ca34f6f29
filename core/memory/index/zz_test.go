package index

import (
	"context"
	"runtime"
	"testing"
	"time"
)

func TestZZShards(t *testing.T) {
	docs := newCorpus(1).docs(40000)
	for i := range docs {
		docs[i].Vector = nil
	}
	runtime.GC()
	for _, s := range []int{1, 2, 1, 2} {
		ix, _ := New(Options{Shards: s})
		st := time.Now()
		var ru0, ru1 = cpuTime(), 0.0
		if err := ix.Add(context.Background(), docs...); err != nil {
			t.Fatal(err)
		}
		ru1 = cpuTime()
		t.Logf("shards %d: wall %v cpu %.2fs", s, time.Since(st), ru1-ru0)
		ix.Close()
	}
}
