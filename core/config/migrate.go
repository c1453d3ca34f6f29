package config

import (
	"fmt"
	"net"
	"strconv"
)

// migration upgrades an undecoded config from version from to from+1. It
// works on the raw JSON object because the old shape no longer fits Config.
type migration struct {
	from  int
	apply func(raw map[string]any) error
}

// migrations is the ordered upgrade path, one step per version. Add a step
// (and bump CurrentVersion) whenever a field is renamed, moved or reinterpreted.
var migrations = []migration{
	{from: 0, apply: migrateV0},
}

// migrate runs steps from version from up to version to, in order, stamping
// each intermediate version so a failing step names where it stopped.
func migrate(raw map[string]any, from, to int, steps []migration) error {
	for v := from; v < to; v++ {
		var step *migration
		for i := range steps {
			if steps[i].from == v {
				step = &steps[i]
				break
			}
		}
		if step == nil {
			return fmt.Errorf("no migration from config version %d", v)
		}
		if err := step.apply(raw); err != nil {
			return fmt.Errorf("migrate config from version %d to %d: %w", v, v+1, err)
		}
		raw["version"] = v + 1
	}
	return nil
}

// migrateV0 upgrades pre-versioning files, which had a top-level
// "listen": "host:port" instead of gateway.bind and gateway.port.
func migrateV0(raw map[string]any) error {
	lv, ok := raw["listen"]
	if !ok {
		return nil
	}
	listen, ok := lv.(string)
	if !ok {
		return fmt.Errorf("listen: expected a string like \"127.0.0.1:18789\", got %s", jsonKind(lv))
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("listen: %q is not host:port: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("listen: port %q is not a number", portStr)
	}
	gw := map[string]any{}
	if g, ok := raw["gateway"]; ok && g != nil {
		if gw, ok = g.(map[string]any); !ok {
			return fmt.Errorf("gateway: expected an object, got %s", jsonKind(g))
		}
	}
	for _, k := range []string{"bind", "port"} {
		if _, ok := gw[k]; ok {
			return fmt.Errorf("both listen and gateway.%s are set; keep only gateway.bind and gateway.port", k)
		}
	}
	if host != "" {
		gw["bind"] = host
	}
	gw["port"] = port
	raw["gateway"] = gw
	delete(raw, "listen")
	return nil
}
