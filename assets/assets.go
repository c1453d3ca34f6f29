// Package assets embeds the images Genos ships with: the app icon and the
// tray icons. It exposes plain bytes so that it has no UI dependency; the
// app wraps them in Fyne resources. The PNGs are drawn by gen_icons.go.
package assets

import _ "embed"

// AppIcon is the 512x512 application icon (PNG).
//
//go:embed appicon.png
var AppIcon []byte

// TrayIcon is the 64x64 monochrome tray icon (PNG, black with alpha), meant
// as a macOS template image that the menu bar recolours for light and dark
// mode.
//
//go:embed tray.png
var TrayIcon []byte

// TrayIconColor is the 64x64 full-colour tray icon (PNG) for panels that
// show icons as they are (Linux, Windows), where a black template would
// vanish on a dark panel.
//
//go:embed tray_color.png
var TrayIconColor []byte
