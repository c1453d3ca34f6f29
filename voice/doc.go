// Package voice holds what speech adapters share. Text-to-speech, phonemes,
// audio devices and speech-to-text live in subpackages that import no core
// package but core/chat.
package voice
