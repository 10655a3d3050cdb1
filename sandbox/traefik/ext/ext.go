// Package ext holds the extension points that Traefik's dynamic configuration embeds
// inline (dynamic.HTTP and dynamic.Router). Open-source Traefik extends nothing there,
// so both are empty: they add no fields to the configuration.
package ext

// HTTP is embedded inline in dynamic.HTTP.
type HTTP struct{}

// Router is embedded inline in dynamic.Router.
type Router struct{}
