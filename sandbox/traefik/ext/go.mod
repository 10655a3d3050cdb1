// Stands in for Traefik's nested module github.com/traefik/traefik/dynamic/ext.
// Traefik's go.mod replaces it with ./pkg/config/dynamic/ext, a folder that the
// published module zip of traefik/v3 leaves out (it has its own go.mod) and that is
// itself never published, so a build from the module proxy must supply it.
module github.com/traefik/traefik/dynamic/ext

go 1.24.0
