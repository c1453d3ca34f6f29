package embed

import (
	"container/list"
	"sync"
	"time"
)

// lru keeps the most recently used vectors in memory, so a text seen a
// moment ago (the same message embedded for prefetch and for the tool
// filter, a query repeated) needs neither a query nor an unseal. It also
// remembers when each key's use was last written to the store, so hits
// touch the store at most once per touchInterval. A zero-capacity lru holds
// nothing. It is safe for concurrent use.
type lru struct {
	mu    sync.Mutex
	cap   int
	ll    *list.List // front = most recent
	items map[string]*list.Element
}

type lruEntry struct {
	key     string
	vec     []float32
	touched time.Time // last use written to the store
}

func newLRU(capacity int) *lru {
	return &lru{cap: capacity, ll: list.New(), items: map[string]*list.Element{}}
}

// get returns the vector of key (nil when absent) and whether its use
// should be written to the store now; if so it counts as written.
func (l *lru) get(key string, now time.Time) (vec []float32, touch bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.items[key]
	if !ok {
		return nil, false
	}
	l.ll.MoveToFront(el)
	e := el.Value.(*lruEntry)
	if now.Sub(e.touched) >= touchInterval || now.Before(e.touched) {
		e.touched = now
		touch = true
	}
	return e.vec, touch
}

// put stores vec (which must not be changed afterwards) as used and
// written to the store at now.
func (l *lru) put(key string, vec []float32, now time.Time) {
	if l.cap <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.items[key]; ok {
		l.ll.MoveToFront(el)
		e := el.Value.(*lruEntry)
		e.vec, e.touched = vec, now
		return
	}
	l.items[key] = l.ll.PushFront(&lruEntry{key: key, vec: vec, touched: now})
	for l.ll.Len() > l.cap {
		old := l.ll.Back()
		l.ll.Remove(old)
		delete(l.items, old.Value.(*lruEntry).key)
	}
}

// remove forgets key.
func (l *lru) remove(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.items[key]; ok {
		l.ll.Remove(el)
		delete(l.items, key)
	}
}

// purge forgets everything.
func (l *lru) purge() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ll.Init()
	clear(l.items)
}
