//go:build ignore

// gen_icons draws the Genos icons: a rounded square with a violet gradient
// and a white "G" whose opening releases a four-point spark. Run it from the
// repository root after changing the design:
//
//	go run assets/gen_icons.go
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"path/filepath"
)

// glyph is the "G" and spark in unit coordinates (0..1, y down).
type glyph struct {
	r, t       float64 // ring radius and stroke thickness
	cx, cy     float64 // ring centre
	gapFrom    float64 // opening, in degrees with y up, from gapFrom to gapTo
	gapTo      float64
	sparkX     float64
	sparkY     float64
	sparkS     float64 // spark half-size
	withSpark  bool
	background bool // draw the rounded gradient square behind the glyph
}

func (g glyph) inG(x, y float64) bool {
	dx, dy := x-g.cx, y-g.cy
	d := math.Hypot(dx, dy)
	a := math.Atan2(-dy, dx) * 180 / math.Pi
	inGap := a > g.gapFrom && a < g.gapTo
	if !inGap && math.Abs(d-g.r) <= g.t/2 {
		return true
	}
	// Round caps at both ends of the arc.
	for _, deg := range []float64{g.gapFrom, g.gapTo} {
		rad := deg * math.Pi / 180
		ex, ey := g.cx+g.r*math.Cos(rad), g.cy-g.r*math.Sin(rad)
		if math.Hypot(x-ex, y-ey) <= g.t/2 {
			return true
		}
	}
	// The bar of the G, from just right of the centre to the ring.
	if y >= g.cy-g.t/2 && y <= g.cy+g.t/2 && x >= g.cx+g.t*0.2 && x <= g.cx+g.r {
		return true
	}
	return math.Hypot(x-(g.cx+g.t*0.2), y-g.cy) <= g.t/2
}

func (g glyph) inSpark(x, y float64) bool {
	if !g.withSpark {
		return false
	}
	dx, dy := math.Abs(x-g.sparkX)/g.sparkS, math.Abs(y-g.sparkY)/g.sparkS
	return math.Sqrt(dx)+math.Sqrt(dy) <= 1
}

func inRoundedSquare(x, y, margin, radius float64) bool {
	lo, hi := margin, 1-margin
	if x < lo || x > hi || y < lo || y > hi {
		return false
	}
	cx := math.Min(math.Max(x, lo+radius), hi-radius)
	cy := math.Min(math.Max(y, lo+radius), hi-radius)
	return math.Hypot(x-cx, y-cy) <= radius
}

func lerp(a, b uint8, t float64) float64 { return float64(a) + (float64(b)-float64(a))*t }

// draw renders g at size px with ss x ss supersampling. fg is the glyph
// colour; the background, when enabled, is a top-left to bottom-right
// gradient.
func draw(g glyph, size int, fg color.NRGBA) *image.NRGBA {
	const ss = 6
	top := color.NRGBA{0x4F, 0x5B, 0xF5, 0xFF}
	bottom := color.NRGBA{0x9B, 0x3C, 0xE0, 0xFF}
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var bgCov, fgCov float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(size)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(size)
					bg := !g.background || inRoundedSquare(x, y, 0.04, 0.2)
					if g.background && bg {
						bgCov++
					}
					if bg && (g.inG(x, y) || g.inSpark(x, y)) {
						fgCov++
					}
				}
			}
			bgCov /= ss * ss
			fgCov /= ss * ss
			t := (float64(px) + float64(py)) / float64(2*size)
			br, bgc, bb := lerp(top.R, bottom.R, t), lerp(top.G, bottom.G, t), lerp(top.B, bottom.B, t)
			var c color.NRGBA
			if g.background {
				if bgCov == 0 {
					continue
				}
				// Blend the glyph over the gradient inside the square.
				f := fgCov / bgCov
				c = color.NRGBA{
					R: uint8(br + (float64(fg.R)-br)*f),
					G: uint8(bgc + (float64(fg.G)-bgc)*f),
					B: uint8(bb + (float64(fg.B)-bb)*f),
					A: uint8(255 * bgCov),
				}
			} else {
				c = color.NRGBA{fg.R, fg.G, fg.B, uint8(255 * fgCov)}
			}
			img.SetNRGBA(px, py, c)
		}
	}
	return img
}

func write(path string, img image.Image) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func main() {
	dir := "assets"
	white := color.NRGBA{0xFF, 0xFF, 0xFF, 0xFF}
	app := glyph{r: 0.25, t: 0.085, cx: 0.48, cy: 0.52, gapFrom: 0, gapTo: 52,
		sparkX: 0.75, sparkY: 0.24, sparkS: 0.1, withSpark: true, background: true}
	write(filepath.Join(dir, "appicon.png"), draw(app, 512, white))
	write(filepath.Join(dir, "tray_color.png"), draw(app, 64, white))

	// The template keeps only shape and alpha: macOS recolours it for the
	// menu bar, so it is drawn black on transparent and a little bolder.
	tmpl := glyph{r: 0.3, t: 0.13, cx: 0.46, cy: 0.54, gapFrom: 0, gapTo: 52,
		sparkX: 0.8, sparkY: 0.19, sparkS: 0.15, withSpark: true}
	write(filepath.Join(dir, "tray.png"), draw(tmpl, 64, color.NRGBA{0, 0, 0, 0xFF}))
}
