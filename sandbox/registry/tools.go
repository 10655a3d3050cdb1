//go:build tools

// Package tools pins the registry command this module builds: the CNCF distribution registry.
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
