// Package dns replaces, at build time only, the one file of lego's providers/dns package
// (zz_gen_dns_providers.go, the registry of its ACME DNS-01 providers): build.sh passes it
// to `go build -overlay`. The upstream registry imports every provider, and about fifteen
// of their cloud SDKs are not on the module proxy, so Traefik would not build. The sandbox
// has no internet, so DNS-01 challenges could never succeed anyway; without the registry
// Traefik builds, and a dnsChallenge in its configuration fails with the error below.
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// NewDNSChallengeProviderByName is the registry's only function, the one Traefik calls.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("DNS provider %q: the sandbox's Traefik is built without ACME DNS-01 providers", name)
}
