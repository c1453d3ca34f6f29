// Package channels holds what every messaging adapter shares (splitting,
// formatting, error classes, backoff). Adapters live in subpackages and import
// no core package but core/chat.
package channels
