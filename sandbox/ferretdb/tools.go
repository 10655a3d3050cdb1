//go:build tools

// Package tools pins the FerretDB command this module builds.
package tools

import _ "github.com/FerretDB/FerretDB/cmd/ferretdb"
