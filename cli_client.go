package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/genos-project/genos/core/api"
	"github.com/genos-project/genos/core/config"
	"github.com/genos-project/genos/core/gateway"
	"github.com/genos-project/genos/core/paths"
)

// dialGateway connects the CLI to the running daemon of this state dir,
// using the address from the config (or $GENOS_GATEWAY_URL) and the token
// file next to it.
func dialGateway(ctx context.Context) (*api.Client, error) {
	dir, err := stateDir()
	if err != nil {
		return nil, err
	}
	url := os.Getenv("GENOS_GATEWAY_URL")
	if url == "" {
		url = recordedURL(dir)
	}
	if url == "" {
		boot, err := bootSettings(dir)
		if err != nil {
			return nil, err
		}
		host := boot.Bind
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		url = "ws://" + net.JoinHostPort(host, strconv.Itoa(boot.Port)) + "/ws"
	}
	token, err := gateway.ReadToken(paths.TokenFile(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("Genos is not running here yet: start it with `genos gateway` (or the Genos app)")
	}
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := api.Dial(dctx, api.DialOptions{
		URL:    url,
		Token:  token,
		Client: api.ClientInfo{ID: "genos-cli", Version: version, Platform: runtime.GOOS, Mode: "cli"},
		Scope:  api.ScopeOwn,
	})
	if err != nil {
		var netErr *net.OpError
		if errors.As(err, &netErr) {
			return nil, fmt.Errorf("Genos is not running at %s: start it with `genos gateway` (or the Genos app)", url)
		}
		return nil, err
	}
	return c, nil
}

// bootSettings says where the gateway of dir listens: from the config, or
// from its plaintext mirror once the vault seals the config.
func bootSettings(dir string) (config.Boot, error) {
	cfg, err := config.Load(paths.ConfigFile(dir))
	switch {
	case errors.Is(err, config.ErrNoConfig):
		return config.BootOf(config.Default()), nil
	case errors.Is(err, config.ErrSealed):
		return config.LoadBoot(paths.BootFile(dir))
	case err != nil:
		return config.Boot{}, err
	}
	return config.BootOf(cfg), nil
}

// recordedURL returns the address the running gateway wrote into the state
// dir, or "" when there is none or it does not look like host:port.
func recordedURL(dir string) string {
	data, err := os.ReadFile(paths.AddrFile(dir))
	if err != nil {
		return ""
	}
	addr := strings.TrimSpace(string(data))
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "ws://" + net.JoinHostPort(host, port) + "/ws"
}
