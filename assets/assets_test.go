package assets

import (
	"bytes"
	"image"
	"image/png"
	"testing"
)

func TestIcons(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		data       []byte
		size       int
		monochrome bool
	}{
		{"app icon", AppIcon, 512, false},
		{"tray template", TrayIcon, 64, true},
		{"tray colour", TrayIconColor, 64, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img, err := png.Decode(bytes.NewReader(tt.data))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if b := img.Bounds(); b.Dx() != tt.size || b.Dy() != tt.size {
				t.Fatalf("size = %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.size, tt.size)
			}
			opaque, transparent, coloured := census(img)
			if opaque == 0 || transparent == 0 {
				t.Errorf("want both opaque and transparent pixels, got %d opaque, %d transparent", opaque, transparent)
			}
			if tt.monochrome && coloured > 0 {
				t.Errorf("template icon has %d non-black pixels", coloured)
			}
			if !tt.monochrome && coloured == 0 {
				t.Error("colour icon has no coloured pixels")
			}
		})
	}
}

// census counts fully opaque, fully transparent and visible non-black pixels.
func census(img image.Image) (opaque, transparent, coloured int) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			switch a {
			case 0xffff:
				opaque++
			case 0:
				transparent++
			}
			if a > 0 && (r|g|bl) != 0 {
				coloured++
			}
		}
	}
	return opaque, transparent, coloured
}
