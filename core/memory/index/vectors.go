package index

import (
	"cmp"
	"math"
	"runtime"
	"slices"
	"sync"
)

// vectors is a flat slab of unit vectors searched by brute force, split
// over GOMAXPROCS goroutines (modernc SQLite has no vector extension). At
// 100k x 384 a float32 scan costs about 12 ms of CPU with the pure Go loop
// (compute bound) and 7 ms with AVX2 (then memory bound: 150 MB per query);
// the int8 copies scanned with AVX2 cut that to about 2 ms. In pure Go the
// int8 loop is slower than float32, so without AVX2 the float32 slab is
// scanned directly.
type vectors struct {
	dim  int
	data []float32 // len(ids) * dim
	ids  []int64   // document ID per slot
	// q8 and scales hold int8 copies of data when useInt8: slot i's vector
	// is about q8[i*dim:(i+1)*dim] * scales[i].
	q8     []int8
	scales []float32
}

func (v *vectors) len() int { return len(v.ids) }

func (v *vectors) at(pos int) []float32 { return v.data[pos*v.dim : (pos+1)*v.dim : (pos+1)*v.dim] }

// grow makes room for n more vectors of dimension dim without
// reallocating per add.
func (v *vectors) grow(n, dim int) {
	v.data = slices.Grow(v.data, n*dim)
	v.ids = slices.Grow(v.ids, n)
	if useInt8 {
		v.q8 = slices.Grow(v.q8, n*dim)
		v.scales = slices.Grow(v.scales, n)
	}
}

func (v *vectors) at8(pos int) []int8 { return v.q8[pos*v.dim : (pos+1)*v.dim : (pos+1)*v.dim] }

// quantize writes v scaled to int8 (the largest component maps to +-127)
// into dst and returns the scale back to float.
func quantize(dst []int8, v []float32) float32 {
	var m float32
	for _, x := range v {
		m = max(m, x, -x)
	}
	if m == 0 {
		clear(dst)
		return 0
	}
	inv := 127 / m
	for i, x := range v {
		dst[i] = int8(math.Round(float64(x * inv)))
	}
	return m / 127
}

// add appends vec for id and returns its slot.
func (v *vectors) add(id int64, vec []float32) int {
	if v.dim == 0 {
		v.dim = len(vec)
	}
	v.data = append(v.data, vec...)
	v.ids = append(v.ids, id)
	if useInt8 {
		v.q8 = append(v.q8, make([]int8, v.dim)...)
		v.scales = append(v.scales, 0)
		v.scales[len(v.ids)-1] = quantize(v.at8(len(v.ids)-1), vec)
	}
	return len(v.ids) - 1
}

func (v *vectors) set(pos int, vec []float32) {
	copy(v.at(pos), vec)
	if useInt8 {
		v.scales[pos] = quantize(v.at8(pos), vec)
	}
}

// remove deletes slot pos by moving the last vector into it; it returns the
// ID of the moved vector, if any moved.
func (v *vectors) remove(pos int) (moved int64, ok bool) {
	last := len(v.ids) - 1
	if pos != last {
		copy(v.at(pos), v.at(last))
		v.ids[pos] = v.ids[last]
		moved, ok = v.ids[pos], true
		if useInt8 {
			copy(v.at8(pos), v.at8(last))
			v.scales[pos] = v.scales[last]
		}
	}
	clear(v.at(last))
	v.ids = v.ids[:last]
	v.data = v.data[:last*v.dim]
	if useInt8 {
		clear(v.at8(last))
		v.q8 = v.q8[:last*v.dim]
		v.scales = v.scales[:last]
	}
	if last == 0 {
		*v = vectors{}
	}
	return moved, ok
}

// clear zeroes and drops every vector.
func (v *vectors) clear() {
	clear(v.data[:cap(v.data)])
	clear(v.q8[:cap(v.q8)])
	*v = vectors{}
}

// vecHit is one vector match.
type vecHit struct {
	id  int64
	pos int
	cos float32
}

// parallelMin is the slab size below which a single goroutine is faster.
const parallelMin = 4096

// top returns the k slots most similar to q, best first (ties by ID).
// With useInt8 a first pass ranks the int8 copies (a quarter of the memory
// traffic, which is what bounds a float32 scan at 100k x 384) and keeps
// 4k candidates, which are then rescored exactly in float32; quantisation
// moves a cosine by about 1e-3, far less than the gap between the k-th and
// the 4k-th neighbour.
func (v *vectors) top(q []float32, k int) []vecHit {
	n := v.len()
	if n == 0 || k <= 0 {
		return nil
	}
	score := func(pos int) float32 { return dot(q, v.at(pos)) }
	keep := k
	quantised := useInt8 && n >= parallelMin
	if quantised {
		q8 := make([]int8, v.dim)
		qs := quantize(q8, q)
		score = func(pos int) float32 { return float32(dotI8(q8, v.at8(pos))) * qs * v.scales[pos] }
		keep = max(4*k, 200)
	}
	workers := 1
	if n >= parallelMin {
		workers = min(runtime.GOMAXPROCS(0), n/parallelMin*2+1)
	}
	parts := make([][]vecHit, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Go(func() { parts[w] = v.scan(score, lo, hi, keep) })
	}
	wg.Wait()
	all := slices.Concat(parts...)
	if quantised {
		for i := range all {
			all[i].cos = dot(q, v.at(all[i].pos))
		}
	}
	slices.SortFunc(all, byCosine)
	return all[:min(k, len(all))]
}

func byCosine(a, b vecHit) int {
	if c := cmp.Compare(b.cos, a.cos); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// scan keeps the k best slots in [lo, hi) by score in a min-heap.
func (v *vectors) scan(score func(pos int) float32, lo, hi, k int) []vecHit {
	h := make([]vecHit, 0, k)
	for pos := lo; pos < hi; pos++ {
		c := score(pos)
		if len(h) < k {
			h = append(h, vecHit{id: v.ids[pos], pos: pos, cos: c})
			up(h, len(h)-1)
			continue
		}
		if c > h[0].cos || (c == h[0].cos && v.ids[pos] < h[0].id) {
			h[0] = vecHit{id: v.ids[pos], pos: pos, cos: c}
			down(h, 0)
		}
	}
	return h
}

// worse orders the heap: the root is the worst kept hit.
func worse(a, b vecHit) bool { return a.cos < b.cos || (a.cos == b.cos && a.id > b.id) }

func up(h []vecHit, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !worse(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func down(h []vecHit, i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && worse(h[r], h[l]) {
			m = r
		}
		if !worse(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
