package channels

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		b        Backoff
		rand     float64
		want     []time.Duration
		min, max time.Duration
	}{
		{
			name: "zero value, top of range grows x3 to the cap",
			rand: 0.999999999,
			want: []time.Duration{3 * time.Second, 9 * time.Second, 27 * time.Second, 81 * time.Second, 243 * time.Second, 5 * time.Minute, 5 * time.Minute},
			min:  time.Second, max: 5 * time.Minute,
		},
		{
			name: "bottom of range stays at Min",
			b:    Backoff{Min: 100 * time.Millisecond, Max: time.Second},
			rand: 0,
			want: []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
			min:  100 * time.Millisecond, max: time.Second,
		},
		{
			name: "middle",
			b:    Backoff{Min: time.Second, Max: time.Hour},
			rand: 0.5,
			// prev=1s: [1s,3s] -> 2s; prev=2s: [1s,6s] -> 3.5s; prev=3.5s: [1s,10.5s] -> 5.75s
			want: []time.Duration{2 * time.Second, 3500 * time.Millisecond, 5750 * time.Millisecond},
			min:  time.Second, max: time.Hour,
		},
		{
			name: "max below min is raised",
			b:    Backoff{Min: 2 * time.Second, Max: time.Second},
			rand: 0.9,
			want: []time.Duration{2 * time.Second, 2 * time.Second},
			min:  2 * time.Second, max: 2 * time.Second,
		},
		{
			name: "huge max does not overflow; bad rand clamped",
			b:    Backoff{Min: time.Second, Max: math.MaxInt64},
			rand: math.NaN(),
			want: []time.Duration{time.Second, time.Second},
			min:  time.Second, max: math.MaxInt64,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := tt.b
			b.Rand = func() float64 { return tt.rand }
			for i, want := range tt.want {
				got := b.Next()
				if got < tt.min || got > tt.max {
					t.Fatalf("step %d: %v outside [%v, %v]", i, got, tt.min, tt.max)
				}
				// Allow for float rounding and rand just below 1.
				if d := got - want; d < -10*time.Microsecond || d > 10*time.Microsecond {
					t.Errorf("step %d: got %v, want %v", i, got, want)
				}
			}
			b.Reset()
			if got := b.Next(); tt.rand == 0 && got != tt.min {
				t.Errorf("after Reset: %v, want %v", got, tt.min)
			}
		})
	}
}

func TestBackoffDefaultRandStaysInBounds(t *testing.T) {
	t.Parallel()
	b := Backoff{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond}
	for i := 0; i < 1000; i++ {
		if d := b.Next(); d < b.Min || d > b.Max {
			t.Fatalf("step %d: %v out of bounds", i, d)
		}
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("canceled: %v", err)
	}
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("zero: %v", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("short: %v", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Sleep(ctx, time.Hour) }()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("cancel during sleep: %v", err)
	}
}
